"""Named checks for exercise 08_cost_and_gpu: one function per graded cell of the notebook.

`attention_flops` and `attention_score_bytes` are checked on the lecture note's sizes (visible),
then on sizes where every mistake shows (hidden): one head, the 5120-wide input with 80 heads,
every floating dtype. The learner's whole layer is graded on the GPU path: `meta` tensors and
bfloat16 on every grading machine, and on CUDA when present, float32 with TF32 off and bfloat16,
each compared with `mhsa_ref`'s fused path (`F.scaled_dot_product_attention`).
"""

from __future__ import annotations

import importlib
import math
from typing import Callable

import torch

from mhsa_ref.checks._core import CheckFailure, call, low_precision_tolerance, on_cuda, passed, random_mask
from mhsa_ref.checks._questions import expect_answer, form_passed, read_choice, read_int, read_ints
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
    "longest_values",
    "longest_cases",
    "flops_coefficients_form",
    "flops_coefficients_question",
    "crossover_len_form",
    "crossover_len_question",
    "heads_cost_form",
    "heads_cost_question",
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
    passed("flops_values", "the exact count for (3, 4, 16, h=8) and (1, 128, 512, h=8)")


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


# ---------------------------------------------------------------------------------------------
# longest_sequence


def _longest_suspects(M: int, B: int, h: int, dtype: torch.dtype) -> dict[str, int]:
    size = dtype.itemsize
    c = B * h * size
    return {
        "the square root was rounded to the nearest int (round); the longest T that fits is rounded down: "
        "math.isqrt(memory_bytes // (B·h·itemsize)).": round(math.sqrt(M / c)),
        "the square root was rounded up; a T whose matrix is larger than the memory does not fit: round down.":
            math.ceil(math.sqrt(M / c)),
        "the bytes per score were left out: divide by B·h·dtype.itemsize, not B·h.": math.isqrt(M // (B * h)),
        "the heads were left out: every head has its own (T, T) matrix, B·h·T² scores in all.": math.isqrt(M // (B * size)),
        "the square root is missing: the matrix has T² scores per head, so T is the square root of what fits.":
            M // c,
        "bits were used instead of bytes: dtype.itemsize is in bytes (torch.finfo(dtype).bits is 8 times more).":
            math.isqrt(M // (c * 8)),
    }


def _expect_longest(longest_sequence: Callable, M: int, B: int, h: int, dtype: torch.dtype) -> None:
    context = f"for memory_bytes={M:,}, batch={B}, num_heads={h}, dtype={dtype}"
    got = call(longest_sequence, M, B, h, dtype, name="longest_sequence", context=context)
    _expect_int(got, ref.longest_sequence(M, B, h, dtype), name="longest_sequence", context=context,
                suspects=_longest_suspects(M, B, h, dtype))


def longest_values(longest_sequence: Callable) -> None:
    """Visible: 80 GB for the note's 80 heads in bfloat16; 1 GiB for (B=3, h=8) in float32."""
    _expect_longest(longest_sequence, 80 * 10**9, 1, 80, torch.bfloat16)
    _expect_longest(longest_sequence, 2**30, 3, 8, torch.float32)
    passed("longest_values", "the largest T with B·h·T²·itemsize ≤ memory, for 80 GB and 1 GiB")


def longest_cases(longest_sequence: Callable) -> None:
    """Hidden: an exact fit and one byte less, nothing fits, float64 and float16, 141 GB for one head."""
    for B, h, T, dtype in [(2, 3, 1000, torch.float32), (1, 1, 7, torch.float64), (4, 16, 4096, torch.float16)]:
        exact = B * h * T * T * dtype.itemsize
        _expect_longest(longest_sequence, exact, B, h, dtype)
        _expect_longest(longest_sequence, exact - 1, B, h, dtype)
    _expect_longest(longest_sequence, 50, 2, 8, torch.float32)  # not even T = 1 (64 bytes) fits
    _expect_longest(longest_sequence, 141 * 10**9, 1, 1, torch.float32)
    passed("longest_cases", "exact fits and one byte less, nothing fits (0), float16 and float64, 141 GB")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run


def _coefficients() -> tuple[int, int]:
    """(a, b) with attention_flops = a·B·T·d² + b·B·T²·d, read off the reference at two sizes."""
    one, two = ref.attention_flops(1, 1, 1, 1), ref.attention_flops(1, 2, 1, 1)  # a + b, 2a + 4b
    b = (two - 2 * one) // 2
    return one - b, b


def flops_coefficients_form(answer_flops_coefficients: object) -> None:
    """Visible: the answer is a tuple of 2 positive ints."""
    read_ints(answer_flops_coefficients, 2, what="answer_flops_coefficients", minimum=1)
    form_passed("flops_coefficients_form", "a tuple of 2 ints")


def flops_coefficients_question(answer_flops_coefficients: object) -> None:
    """Hidden: the a and b of a·B·T·d² + b·B·T²·d."""
    got = read_ints(answer_flops_coefficients, 2, what="answer_flops_coefficients", minimum=1)
    want = _coefficients()
    a, b = want
    expect_answer(got, want, name="flops_coefficients_question",
                  summary=f"{want}: {a}·B·T·d² for the four projections, {b}·B·T²·d for the scores and the weighted sum",
                  why=(f"the four projections (Q, K, V and W^O) each multiply (B·T, d) by (d, d): 2·B·T·d² each, "
                       f"8·B·T·d² in all, so a = {a}. Per head, Q_i K_iᵀ is (T, d_k) × (d_k, T): 2·T²·d_k, and "
                       f"A_i V_i is (T, T) × (T, d_k): 2·T²·d_k again; h heads of d_k = d/h and B sentences make "
                       f"2 · 2·B·T²·d = 4·B·T²·d, so b = {b}. The h cancels."),
                  wrong={(6, 4): "W^O was left out: there are four projections, Q, K, V and W^O.",
                         (4, 2): "a multiply-add counts as 2 FLOPs: an (m, n) × (n, p) product costs 2·m·n·p.",
                         (8, 2): "there are two T² products per head, the scores Q_i K_iᵀ and the weighted sum A_i V_i.",
                         (6, 2): "four projections (W^O too), and two T² products per head, each 2·m·n·p."})


def crossover_len_form(answer_crossover_len: object) -> None:
    """Visible: the answer is one positive int."""
    read_int(answer_crossover_len, what="answer_crossover_len", minimum=1)
    form_passed("crossover_len_form", "one int")


def crossover_len_question(answer_crossover_len: object) -> None:
    """Hidden: the T at which the T² terms cost as much as the projections, for d = 5120."""
    got = read_int(answer_crossover_len, what="answer_crossover_len", minimum=1)
    d = 5120
    a, b = _coefficients()
    want = a * d // b  # a·B·T·d² = b·B·T²·d  ⟺  T = (a/b)·d
    expect_answer(got, want, name="crossover_len_question",
                  summary=f"T = {want:,} = 2·d: beyond it, the T² part costs more than the projections",
                  why=(f"the two parts are equal when {a}·B·T·d² = {b}·B·T²·d, that is T = {a // b}·d = {want:,} "
                       f"for d = {d:,}: B cancels, and so does h. Below it the four projections dominate (the cost "
                       f"grows like T); above it the scores and the weighted sum do (like T²)."),
                  wrong={d: "T = d makes 4·B·T²·d equal to 4·B·T·d², half the projections' 8·B·T·d².",
                         d // 2: f"the projections cost {a}·B·T·d², the T² part {b}·B·T²·d: equal at T = {a // b}·d.",
                         d * d: "divide both sides by B·T·d: 8·d = 4·T."})


def heads_cost_form(answer_heads_cost: object) -> None:
    """Visible: the answer is one of the letters a, b, c."""
    read_choice(answer_heads_cost, "abc", what="answer_heads_cost")
    form_passed("heads_cost_form", "one letter")


def heads_cost_question(answer_heads_cost: object) -> None:
    """Hidden: why the FLOPs do not depend on h while the score memory does."""
    got = read_choice(answer_heads_cost, "abc", what="answer_heads_cost")
    B, T, d = 1, 1024, 512
    flops = {h: ref.attention_flops(B, T, d, h) for h in (1, 8)}
    memory = {h: ref.attention_score_bytes(B, T, h, torch.float32) for h in (1, 8)}
    want = "a"
    expect_answer(got, want, name="heads_cost_question",
                  summary="(a): h products of width d/h cost what one of width d does, but each stores its own T×T matrix",
                  why=(f"each head's scores are a (T, d_k) × (d_k, T) product, 2·T²·d_k FLOPs with d_k = d/h: h of them "
                       f"cost 2·T²·d, whatever h (for T = {T}, d = {d}: {flops[1]:,} FLOPs with 1 head and with 8). But "
                       f"every head's product is a whole (T, T) matrix, and its size does not depend on d_k: h heads "
                       f"store h·T² scores ({memory[1]:,} bytes in float32 with 1 head, {memory[8]:,} with 8). The width "
                       f"is shared out among the heads; the T×T matrix is not."),
                  wrong={"b": "the FLOPs count every head: h heads of width d/h, h · 2·T²·(d/h) = 2·T²·d.",
                         "c": "softmax is O(B·h·T²), small next to the products, and its count would grow with h too; "
                              "the products' h cancels because each head is d/h wide."})
