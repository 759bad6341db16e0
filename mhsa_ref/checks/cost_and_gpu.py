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

from mhsa_ref.checks._core import (CheckFailure, call, likely_causes, low_precision_tolerance, on_cuda, passed,
                                   random_mask)
from mhsa_ref.checks._questions import expect_answer, form_passed, near, read_choice, read_float, read_ints
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
    "heads_cost_form",
    "heads_cost_question",
    "cross_coefficients_form",
    "cross_coefficients_question",
    "quadratic_share_form",
    "quadratic_share_question",
    "flops_growth_form",
    "flops_growth_question",
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
    cause = likely_causes([c for c, value in suspects.items() if value == got and value != want])
    ratio = f" (ratio {got / want:.3g})" if want else ""
    raise CheckFailure(f"`{name}` returned {got:,} {context}; expected {want:,}{ratio}."
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
        "a float square root (math.sqrt, ** 0.5) was used: above 2**53 a float cannot hold every int, and the "
        "root comes out one too large; math.isqrt(n) is exact for any int.": int(math.sqrt(M / c)),
        "the bytes per score were left out: divide by B·h·dtype.itemsize, not B·h.": math.isqrt(M // (B * h)),
        "the heads were left out: every head has its own (T, T) matrix, B·h·T² scores in all.": math.isqrt(M // (B * size)),
        "the square root is missing: the matrix has T² scores per head, so T is the square root of what fits.":
            M // c,
        "bits were used instead of bytes: dtype.itemsize is in bytes (torch.finfo(dtype).bits is 8 times more).":
            math.isqrt(M // (c * 8)),
        "4 bytes per score whatever the dtype: a score takes dtype.itemsize bytes (2 in bfloat16, 8 in float64).":
            math.isqrt(M // (B * h * 4)),
        "the square root was taken before dividing by the bytes per score; divide first, then take the root: "
        "T = ⌊√(memory_bytes / (B·h·itemsize))⌋.": math.isqrt(M // (B * h)) // size,
        "the scores were required to take strictly less than the memory; a matrix that fills it exactly fits "
        "(≤, not <).": math.isqrt((M - 1) // c) if M > 0 else 0,
        "the answer was kept at 1 or more; when not even one score per head fits (B·h·itemsize > memory_bytes), "
        "the longest sequence is 0.": max(1, math.isqrt(M // c)),
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
    """Hidden: an exact fit and one byte less, nothing fits, float64 and float16, 141 GB for one head, and a memory
    beyond 2**53 bytes, where a float square root is no longer exact (math.isqrt is)."""
    for B, h, T, dtype in [(2, 3, 1000, torch.float32), (1, 1, 7, torch.float64), (4, 16, 4096, torch.float16)]:
        exact = B * h * T * T * dtype.itemsize
        _expect_longest(longest_sequence, exact, B, h, dtype)
        _expect_longest(longest_sequence, exact - 1, B, h, dtype)
    _expect_longest(longest_sequence, 50, 2, 8, torch.float32)  # not even T = 1 (64 bytes) fits
    _expect_longest(longest_sequence, 141 * 10**9, 1, 1, torch.float32)
    # (2**31 + 1)² − 1 scores: as a float it rounds up to a perfect square, and math.sqrt gives one too many
    _expect_longest(longest_sequence, 4 * ((2**31 + 1) ** 2 - 1), 1, 1, torch.float32)
    passed("longest_cases", "exact fits and one byte less, nothing fits (0), float16 and float64, 141 GB, about 2**64 bytes")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run


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


def _cross_flops(T: int, S: int) -> int:
    """PyTorch's FLOP count of cross-attention built from the reference, B = d = h = 1: a·T + b·S + c·T·S."""
    from torch.utils.flop_counter import FlopCounterMode

    from mhsa_ref.attention import scaled_dot_product_attention
    from mhsa_ref.concat_and_output import merge_heads
    from mhsa_ref.split_heads import split_heads

    x, y, w = torch.empty(1, T, 1, device="meta"), torch.empty(1, S, 1, device="meta"), torch.empty(1, 1, device="meta")
    with FlopCounterMode(display=False) as counter:
        q, k, v = split_heads(x @ w, 1), split_heads(y @ w, 1), split_heads(y @ w, 1)
        z, _ = scaled_dot_product_attention(q, k, v)
        merge_heads(z) @ w
    return counter.get_total_flops()


def _cross_coefficients() -> tuple[int, int, int]:
    """(a, b, c) of cross-attention's a·B·T·d² + b·B·S·d² + c·B·T·S·d, read off four counts (the notebook's cell)."""
    one, more_t, more_s, both = _cross_flops(1, 1), _cross_flops(2, 1), _cross_flops(1, 2), _cross_flops(2, 2)
    c = both - more_t - more_s + one
    return more_t - one - c, more_s - one - c, c


def cross_coefficients_form(answer_cross_coefficients: object) -> None:
    """Visible: the answer is a tuple of 3 ints."""
    read_ints(answer_cross_coefficients, 3, what="answer_cross_coefficients")
    form_passed("cross_coefficients_form", "a tuple of 3 ints")


def cross_coefficients_question(answer_cross_coefficients: object) -> None:
    """Hidden: (a, b, c) of cross-attention's FLOPs a·B·T·d² + b·B·S·d² + c·B·T·S·d."""
    got = read_ints(answer_cross_coefficients, 3, what="answer_cross_coefficients")
    want = _cross_coefficients()
    expect_answer(got, want, name="cross_coefficients_question",
                  summary="(4, 4, 4): Q and W^O over the T queries, K and V over the S keys, and T·S products",
                  why=("each projection is 2·(rows)·d² FLOPs: Q and W^O act on the T query positions (2·B·T·d² each, "
                       "4·B·T·d²), K and V on the S key positions (4·B·S·d²). Per head, Q_i K_iᵀ is (T, d_k) × (d_k, S) "
                       "and A_i V_i is (T, S) × (S, d_k): 2·T·S·d_k each, 4·B·T·S·d over the h heads. Self-attention is "
                       "S = T: 8·B·T·d² + 4·B·T²·d, the chapter's formula."),
                  wrong={(8, 0, 4): "with S ≠ T the key and value projections run over the S key positions, not T.",
                         (2, 2, 4): "a projection of n rows costs 2·n·d² (a multiply-add is 2 FLOPs); two of them run "
                                    "over T rows, two over S.",
                         (4, 4, 2): "there are two T·S products per head, the scores and the weighted sum, each 2·T·S·d_k.",
                         (6, 2, 4): "W^O acts on the layer's output, one row per query: it counts with Q, over T."})


def quadratic_share_form(answer_quadratic_share: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_quadratic_share, what="answer_quadratic_share")
    form_passed("quadratic_share_form", "one number")


def quadratic_share_question(answer_quadratic_share: object) -> None:
    """Hidden: the share of the T² terms in the FLOPs for d = 1024, T = 4096."""
    got = read_float(answer_quadratic_share, what="answer_quadratic_share")
    B, T, d, h = 1, 4096, 1024, 16
    want = 4 * B * T * T * d / ref.attention_flops(B, T, d, h)  # the scores and the weighted sum: 4·B·T²·d
    expect_answer(got, want, name="quadratic_share_question", close=near(),
                  summary=f"{want:.3f}: T / (2d + T) = 4096 / 6144",
                  why=("the T² terms are 4·B·T²·d and the whole is 8·B·T·d² + 4·B·T²·d, so their share is "
                       "4T / (8d + 4T) = T / (2d + T) = 4096 / (2048 + 4096) = 2/3, whatever B and h. Past T = 2d the "
                       "attention products cost more than the four projections, and their share tends to 1."),
                  wrong={0.5: "T = 4096 is twice 2d = 2048: past the crossover, the T² share is T / (2d + T) = 2/3.",
                         1 / 3: "1/3 is the projections' share; the T² terms take the other 2/3.",
                         0.8: "the share is T / (2d + T): with d = 1024, 2d = 2048, not 1024."})


_GROWTH = (512, 1024, 2048, 4096, 8192, 16384, 32768)  # the notebook's cell


def flops_growth_form(answer_flops_growth: object) -> None:
    """Visible: the answer is one of the letters a, b, c."""
    read_choice(answer_flops_growth, "abc", what="answer_flops_growth")
    form_passed("flops_growth_form", "one letter")


def flops_growth_question(answer_flops_growth: object) -> None:
    """Hidden: what the measured FLOP ratios for doubling T tend to."""
    got = read_choice(answer_flops_growth, "abc", what="answer_flops_growth")
    ratios = [ref.attention_flops(1, 2 * T, 1024, 16) / ref.attention_flops(1, T, 1024, 16)
              for T in _GROWTH]
    expect_answer(got, "b", name="flops_growth_question",
                  summary=f"(b): doubling T multiplies the FLOPs by {', '.join(f'{r:.2f}' for r in ratios)}, towards 4",
                  why=(f"your table: when T doubles, the FLOPs grow by {', '.join(f'{r:.2f}' for r in ratios)} for "
                       f"T = {', '.join(map(str, _GROWTH))}. The projections are linear in T (×2) and the attention "
                       f"products quadratic (×4); past T = 2d = 2048 the quadratic part takes over, so the ratio climbs "
                       f"from 2 towards 4 and never beyond."),
                  wrong={"a": "2 is the ratio of the projections alone, linear in T; the table's ratios pass 3 and keep "
                              "climbing.",
                         "c": "nothing in the layer is cubic in T: the attention products are T², so the ratio stops at 4."})
