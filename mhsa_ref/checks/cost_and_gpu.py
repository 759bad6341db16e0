"""Named checks for exercise 08_cost_and_gpu: one function per graded cell of the notebook.

`attention_flops` and `attention_score_bytes` are checked on the lecture note's sizes (visible),
then on sizes where every mistake shows (hidden): one head, the 5120-wide input with 80 heads,
every floating dtype. The learner's whole layer is graded on the GPU path: `meta` tensors and
bfloat16 on every grading machine, and on CUDA when present, float32 with TF32 off and bfloat16,
each compared with `mhsa_ref`'s fused path (`F.scaled_dot_product_attention`).
"""

from __future__ import annotations

import importlib
from typing import Callable

import torch

from mhsa_ref.checks._core import CheckFailure, call, low_precision_tolerance, on_cuda, passed, random_mask
from mhsa_ref.checks.concat_and_output import expect_layer, layer_inputs, layer_values as _layer_values

ref = importlib.import_module("mhsa_ref.cost_and_gpu")
layers = importlib.import_module("mhsa_ref.concat_and_output")

__all__ = [
    "flops_values",
    "flops_sizes",
    "bytes_values",
    "bytes_dtypes",
    "layer_values",
    "layer_gpu_path",
]


# ---------------------------------------------------------------------------------------------
# attention_flops


def _flops_suspects(B: int, T: int, d: int, h: int) -> dict[str, int]:
    return {
        "the output projection W^O was left out: four projections (Q, K, V and W^O) make 4 · 2·B·T·d² = 8·B·T·d².":
            6 * B * T * d * d + 4 * B * T * T * d,
        "a multiply-add was counted as 1 FLOP; the convention counts it as 2 (one multiply, one add).":
            4 * B * T * d * d + 2 * B * T * T * d,
        "the T² term was multiplied by the number of heads. Each head works on d_k = d/h features, so all h heads "
        "together do 4·B·T²·d, the same as one head of width d.": 8 * B * T * d * d + 4 * B * T * T * d * h,
        "the T² term used d_k = d/h instead of d: that is one head's work; there are h of them.":
            8 * B * T * d * d + 4 * B * T * T * (d // h),
        "the batch size was left out of one of the terms; both grow with B.": 8 * T * d * d + 4 * B * T * T * d,
        "only the projections were counted: the scores Q Kᵀ and the weighted sum of V add 2 · 2·B·T²·d.":
            8 * B * T * d * d,
    }


def _expect_int(got: object, want: int, *, name: str, context: str, suspects: dict[str, int]) -> None:
    if isinstance(got, bool) or not isinstance(got, int):
        if isinstance(got, float) and got == want:
            raise CheckFailure(f"`{name}` returned the float {got!r} {context}; return an int (counts are exact, "
                               f"and a float loses digits above 2**53): use // instead of /, or int(...).")
        if isinstance(got, torch.Tensor):
            raise CheckFailure(f"`{name}` returned a tensor {context}; return a Python int computed from the sizes.")
        raise CheckFailure(f"`{name}` returned {type(got).__name__} {got!r} {context}; expected the int {want}.")
    if got == want:
        return
    cause = next((c for c, value in suspects.items() if value == got and value != want), None)
    raise CheckFailure(f"`{name}` returned {got:,} {context}; expected {want:,} (ratio {got / want:.3g})."
                       + (f"\n  Likely cause: {cause}" if cause else ""))


def _expect_flops(attention_flops: Callable, B: int, T: int, d: int, h: int) -> None:
    context = f"for batch={B}, seq_len={T}, d_model={d}, num_heads={h}"
    got = call(attention_flops, B, T, d, h, name="attention_flops", context=context)
    _expect_int(got, ref.attention_flops(B, T, d, h), name="attention_flops", context=context,
                suspects=_flops_suspects(B, T, d, h))


def flops_values(attention_flops: Callable) -> None:
    """Visible: the note's [3, 8, 4, 2] (B=3, T=4, d_model=16, h=8) and a 512-wide layer with 8 heads."""
    _expect_flops(attention_flops, 3, 4, 16, 8)
    _expect_flops(attention_flops, 1, 128, 512, 8)
    passed("flops_values", "8·B·T·d² + 4·B·T²·d for (3, 4, 16, h=8) and (1, 128, 512, h=8)")


def flops_sizes(attention_flops: Callable) -> None:
    """Hidden: one head, many heads, the note's 5120-wide input with 80 heads, long sequences."""
    for B, T, d, h in [(2, 7, 56, 8), (5, 3, 12, 1), (1, 1024, 5120, 80), (8, 32768, 4096, 32), (1, 1, 1, 1)]:
        _expect_flops(attention_flops, B, T, d, h)
    passed("flops_sizes", "one head, 80 heads of a 5120-wide input, T = 32768: exact ints")


# ---------------------------------------------------------------------------------------------
# attention_score_bytes


def _bytes_suspects(B: int, T: int, h: int, dtype: torch.dtype) -> dict[str, int]:
    size = dtype.itemsize
    return {
        "the number of elements was returned, not bytes: multiply by the bytes per element, dtype.itemsize.":
            B * h * T * T,
        "4 bytes per element were assumed whatever the dtype; use dtype.itemsize (2 for bfloat16 and float16, "
        "8 for float64).": B * h * T * T * 4,
        "bits were counted instead of bytes: torch.finfo(dtype).bits is 8 times dtype.itemsize.": B * h * T * T * size * 8,
        "the heads were left out: every head has its own (T, T) matrix, (B, h, T, T) in all.": B * T * T * size,
        "the matrix was taken as (B, h, T): the score matrix is (T, T) per head, one score per (query, key) pair.":
            B * h * T * size,
    }


def _expect_bytes(attention_score_bytes: Callable, B: int, T: int, h: int, dtype: torch.dtype) -> None:
    context = f"for batch={B}, seq_len={T}, num_heads={h}, dtype={dtype}"
    got = call(attention_score_bytes, B, T, h, dtype, name="attention_score_bytes", context=context)
    _expect_int(got, ref.attention_score_bytes(B, T, h, dtype), name="attention_score_bytes", context=context,
                suspects=_bytes_suspects(B, T, h, dtype))


def bytes_values(attention_score_bytes: Callable) -> None:
    """Visible: the note's (B=3, h=8, T=4) in float32, and (1, 8, 1024) in float32."""
    _expect_bytes(attention_score_bytes, 3, 4, 8, torch.float32)
    _expect_bytes(attention_score_bytes, 1, 1024, 8, torch.float32)
    passed("bytes_values", "B·h·T²·4 bytes in float32 for (3, 8, 4) and (1, 8, 1024)")


def bytes_dtypes(attention_score_bytes: Callable) -> None:
    """Hidden: float16, bfloat16, float64; 80 heads at T = 32768 (an exact int of 10¹¹ bytes and more)."""
    for dtype in (torch.float16, torch.bfloat16, torch.float64, torch.float32):
        _expect_bytes(attention_score_bytes, 2, 7, 3, dtype)
        _expect_bytes(attention_score_bytes, 1, 32768, 80, dtype)
    passed("bytes_dtypes", "2, 2, 8 and 4 bytes per score; 80 heads at T = 32768")


# ---------------------------------------------------------------------------------------------
# the whole layer, on the GPU path


def layer_values(layer: Callable) -> None:
    """Visible: your layer of exercise 07 on the note's sizes (X (3, 4, 16), 8 heads), float32."""
    _layer_values(layer)


def _expect_against_fused(layer: Callable, device: str, dtype: torch.dtype, *, seed: int) -> str:
    """The learner's layer in `dtype` on `device` against the fused reference path, within the dtype's error."""
    x, w_q, w_k, w_v, w_o = layer_inputs(2, 64, 128, seed=seed, dtype=dtype, device=device)  # 8 heads of d_k = 16
    mask = random_mask((2, 64, 64), seed=seed + 9, device=device)
    fused, _ = layers.fused_multi_head_self_attention(x, w_q, w_k, w_v, w_o, 8, mask)
    explicit, weights = layers.multi_head_self_attention(x, w_q, w_k, w_v, w_o, 8, mask)
    if dtype in (torch.float32, torch.float64):
        tol = None
    else:  # rounding: allow what our own two paths do in this dtype, against float64 on the CPU
        exact, _ = layers.multi_head_self_attention(*(t.to("cpu", torch.float64) for t in (x, w_q, w_k, w_v, w_o)),
                                                    8, mask.cpu())
        tol = max(low_precision_tolerance(fused, exact), low_precision_tolerance(explicit, exact))
    expect_layer(layer, x, w_q, w_k, w_v, w_o, 8, mask, want=(fused, weights), tol=tol,
                 against=f"mhsa_ref's fused path on {device}")
    return f"{str(dtype)[6:]} on {device}"


def layer_gpu_path(layer: Callable) -> None:
    """Hidden: `meta` and bfloat16 everywhere; on CUDA, float32 (TF32 off) and bfloat16 against the fused path."""
    for mask in (None, torch.empty((2, 64, 64), dtype=torch.bool, device="meta")):
        expect_layer(layer, *layer_inputs(2, 64, 128, seed=0, device="meta"), 8, mask)
    done = [_expect_against_fused(layer, "cpu", torch.bfloat16, seed=800)]

    def cuda_run() -> None:
        done.append(_expect_against_fused(layer, "cuda", torch.float32, seed=810))
        done.append(_expect_against_fused(layer, "cuda", torch.bfloat16, seed=820))

    where = on_cuda(cuda_run)
    passed("layer_gpu_path", f"meta tensors; {', '.join(done)} against the fused path; {where}")
