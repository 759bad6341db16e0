"""Named checks for exercise 04_attention: one function per graded cell of the notebook.

Visible checks use the lecture note's shapes (B=3, h=8, T=4, d_k=2); hidden ones use shapes whose
every size differs, float32 and float64, masks, a fully masked row, `meta` tensors, and CUDA when
present. Every call goes through `_core.call`, so `torch.softmax`, `F.scaled_dot_product_attention`,
`nn.MultiheadAttention` and the reference itself are caught however they are reached.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mhsa_ref import attention as ref
from mhsa_ref.self_attention import causal_mask
from mhsa_ref.checks._core import CheckFailure, Rules, call, expect_close, expect_results, expect_tensor, on_cuda, passed, randn, random_mask
from mhsa_ref.checks._questions import expect_answer, form_passed, near, read_choice, read_float

__all__ = [
    "softmax_values",
    "softmax_masked_row",
    "softmax_stability",
    "softmax_dims_and_dtypes",
    "softmax_devices",
    "sdpa_values",
    "sdpa_shapes_and_dtypes",
    "sdpa_masks",
    "sdpa_fully_masked_row",
    "sdpa_devices",
    "entropy_values",
    "entropy_cases",
    "score_scale_form",
    "score_scale_question",
    "masked_entropy_form",
    "masked_entropy_question",
    "saturation_form",
    "saturation_question",
]

SOFTMAX_RULES = Rules(ops={
    "_softmax": "torch's built-in softmax (torch.softmax, F.softmax or Tensor.softmax)",
    "_log_softmax": "torch's built-in log_softmax",
    "_masked_softmax": "torch's built-in masked softmax",
})
ATTENTION_RULES = Rules(
    ops={
        "scaled_dot_product": "F.scaled_dot_product_attention",
        "_native_multi_head_attention": "nn.MultiheadAttention",
        "_safe_softmax": "F.scaled_dot_product_attention (its math path)",
    },
    python={
        F.multi_head_attention_forward: "nn.MultiheadAttention (F.multi_head_attention_forward)",
        nn.MultiheadAttention.forward: "nn.MultiheadAttention",
    },
)

# ---------------------------------------------------------------------------------------------
# softmax


def _softmax_suspects(x: Tensor, dim: int) -> dict[str, Callable[[], Tensor]]:
    d = dim % x.dim()
    suspects: dict[str, Callable[[], Tensor]] = {}
    if d != x.dim() - 1:
        suspects["your function ignores its `dim` argument and always normalises the last axis."] = lambda: ref.softmax(x, -1)
    for other in range(x.dim()):
        if other != d and x.size(other) > 1:
            suspects[f"you normalised along dim {other}; each slice along dim={dim} must sum to 1."] = (
                lambda o=other: ref.softmax(x, o)
            )
    suspects["you divided by the sum of the whole tensor; sum along `dim` only, with keepdim=True."] = (
        lambda: torch.exp(x - x.max()) / torch.exp(x - x.max()).sum()
    )
    suspects["you returned exp(x - max) without dividing by its sum along `dim`."] = (
        lambda: torch.exp(x - x.amax(d, keepdim=True))
    )
    suspects["you divided x by its sum without taking exp first."] = lambda: x / x.sum(d, keepdim=True)
    return suspects


def _expect_softmax(softmax: Callable, x: Tensor, dim: int, nan_hint: str | None = None) -> None:
    context = f"for x of shape {tuple(x.shape)} ({str(x.dtype)[6:]}) and dim={dim}"
    got = call(softmax, x, dim, name="softmax", rules=SOFTMAX_RULES, context=context)
    kwargs = {"nan_hint": nan_hint} if nan_hint else {}
    expect_close(got, ref.softmax(x, dim), what="softmax(x, dim)", context=context,
                 suspects=_softmax_suspects(x, dim), **kwargs)


def softmax_values(softmax: Callable) -> None:
    """Visible: the scores of the note's example, (B=3, h=8, T=4, S=4), along the last axis."""
    for seed in (0, 1):
        _expect_softmax(softmax, randn((3, 8, 4, 4), seed=seed), -1)
    passed("softmax_values", "matches the reference on scores of shape (3, 8, 4, 4)")


_OVERFLOW = (
    "exp overflowed: exp(89) is already inf in float32, and inf / inf is NaN. Subtract each "
    "slice's maximum before exp; softmax does not change when a constant is added to a slice."
)
_ALL_MASKED = (
    "a slice that is entirely -inf gives NaN, because x - max(x) is -inf - (-inf) there. Such "
    "a slice must give zeros: replace a non-finite maximum by 0 (torch.where) and avoid 0/0."
)


def softmax_masked_row(softmax: Callable) -> None:
    """Visible: the two cases the instructions require. Scores near 1000 (a naive exp overflows), then scores
    (3, 4) whose second row is entirely -inf (a query with nothing to attend to): zeros there."""
    _expect_softmax(softmax, randn((2, 5), seed=14) * 1000, -1, nan_hint=_OVERFLOW)
    x = randn((3, 4), seed=15)
    x[1] = float("-inf")
    _expect_softmax(softmax, x, -1, nan_hint=_ALL_MASKED)
    passed("softmax_masked_row", "scores near 1000 do not overflow; a row that is entirely -inf gives zeros")


def softmax_stability(softmax: Callable) -> None:
    """Hidden: huge scores, a slice that is entirely -inf, and single -inf entries."""
    big = randn((2, 3, 5, 7), seed=10) * 1000  # naive exp overflows in float32
    _expect_softmax(softmax, big, -1, nan_hint=_OVERFLOW)
    _expect_softmax(softmax, randn((4, 6), seed=11, dtype=torch.float64) * 1e5, -1, nan_hint=_OVERFLOW)

    some = randn((2, 5, 6), seed=12)
    some[0, 1, 2] = some[1, 3, 0] = some[1, 3, 5] = float("-inf")
    _expect_softmax(softmax, some, -1)

    none = randn((2, 5, 6), seed=13)
    none[0, 2, :] = float("-inf")
    none[1, 4, :] = float("-inf")
    _expect_softmax(softmax, none, -1, nan_hint=_ALL_MASKED)
    passed("softmax_stability", "finite for huge scores; zeros for a slice that is entirely -inf")


def softmax_dims_and_dtypes(softmax: Callable) -> None:
    """Hidden: every axis of a (2, 3, 5, 7) tensor, negative and positive dims, float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        x = randn((2, 3, 5, 7), seed=20, dtype=dtype)
        for dim in (-1, 0, 1, 2, -2):
            _expect_softmax(softmax, x, dim)
        _expect_softmax(softmax, randn((9,), seed=21, dtype=dtype), 0)
    passed("softmax_dims_and_dtypes", "every dim of a (2, 3, 5, 7) tensor, 1-D input, float32 and float64")


def softmax_devices(softmax: Callable) -> None:
    """Hidden: `meta` tensors (nothing created on a fixed device), and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        x = randn((2, 3, 5, 7), seed=0, dtype=dtype, device="meta")
        context = f"for x on the meta device ({str(dtype)[6:]}), which has shapes but no values"
        got = call(softmax, x, -1, name="softmax", rules=SOFTMAX_RULES, context=context)
        expect_tensor(got, ref.softmax(x, -1), what="softmax(x)", context=context)

    def cuda_run() -> None:
        x = randn((2, 3, 5, 7), seed=30, device="cuda")
        x[0, 1, 2, :] = float("-inf")
        _expect_softmax(softmax, x, -1)

    passed("softmax_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# scaled_dot_product_attention


def _variant(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, *, scale: float, dim: int = -1,
             fill: float = float("-inf"), invert: bool = False, after: bool = False) -> tuple[Tensor, Tensor]:
    """Attention computed with one deliberate mistake, to recognise that mistake in a learner's output."""
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None and invert:
        mask = ~mask
    if mask is not None and not after:
        scores = scores.masked_fill(~mask, fill)
    weights = ref.softmax(scores, dim)
    if mask is not None and after:
        weights = weights * mask
    return weights @ v, weights


def _sdpa_suspects(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, part: int) -> dict[str, Callable[[], Tensor]]:
    d_k, d_v = q.size(-1), v.size(-1)
    root = 1 / math.sqrt(d_k)
    make = lambda **kw: (lambda: _variant(q, k, v, mask, **{"scale": root, **kw})[part])
    suspects = {
        "the scores were not scaled; divide q @ kᵀ by √d_k.": make(scale=1.0),
        "the scores were divided by d_k; divide by √d_k (math.sqrt(d_k)).": make(scale=1 / d_k),
        "the scores were multiplied by √d_k; divide by it instead.": make(scale=math.sqrt(d_k)),
        "softmax ran over the queries (dim=-2); each query's weights over the keys (dim=-1) must sum to 1.": make(dim=-2),
    }
    if d_v != d_k:
        suspects["the scores were scaled by 1/√d_v (the value width); the scale uses d_k, the width of q and k."] = (
            make(scale=1 / math.sqrt(d_v))
        )
    if mask is not None:
        suspects.update({
            "the mask is inverted: True means 'may attend', so fill the scores where the mask is False (~mask).": make(invert=True),
            "masked scores were set to 0, which still gives masked keys weight; set them to -inf before softmax.": make(fill=0.0),
            "the mask was applied after softmax, so the remaining weights no longer sum to 1; mask the scores before softmax.": make(after=True),
            "masked scores were filled with a large finite number (like -1e9); a row with no allowed key then "
            "averages all values instead of giving zeros. Use -inf and make your softmax return zeros for such rows.": make(fill=-1e9),
        })
    return suspects


_SDPA_NAN = (
    "a query row whose keys are all masked gives NaN (softmax of a row of -inf). Such a row must "
    "give zero weights and a zero output: use your softmax from above, and make it return zeros for a "
    "slice that is entirely -inf (its hidden stability check tests exactly that)."
)


def _call_sdpa(sdpa: Callable, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, context: str):
    """The learner's (out, weights) and the reference's, once the result is known to be a pair in order."""
    got = call(sdpa, q, k, v, mask, name="scaled_dot_product_attention", rules=ATTENTION_RULES, context=context)
    want_out, want_w = ref.scaled_dot_product_attention(q, k, v, mask)
    out, weights = expect_results(got, ("out", "weights"), name="scaled_dot_product_attention", context=context)
    if isinstance(out, Tensor) and isinstance(weights, Tensor) and out.shape == want_w.shape != want_out.shape:
        raise CheckFailure(f"scaled_dot_product_attention returned (weights, out) {context}; return (out, weights).")
    return out, weights, want_out, want_w


def _expect_sdpa(sdpa: Callable, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> None:
    context = (f"for q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} ({str(q.dtype)[6:]})"
               + (f", mask {tuple(mask.shape)}" if mask is not None else ", no mask"))
    out, weights, want_out, want_w = _call_sdpa(sdpa, q, k, v, mask, context)
    expect_close(weights, want_w, what="the weights", context=context,
                 suspects=_sdpa_suspects(q, k, v, mask, 1), nan_hint=_SDPA_NAN)
    expect_close(out, want_out, what="the output", context=context,
                 suspects={"the output should be weights @ v: each query's weighted average of the values.":
                           lambda: want_w.transpose(-2, -1) @ v},
                 nan_hint=_SDPA_NAN)


def _qkv(shape_q: tuple[int, ...], s: int, d_v: int, *, seed: int, dtype=torch.float32, device="cpu"):
    *lead, t, d_k = shape_q
    return (randn(tuple(shape_q), seed=seed, dtype=dtype, device=device),
            randn((*lead, s, d_k), seed=seed + 1, dtype=dtype, device=device),
            randn((*lead, s, d_v), seed=seed + 2, dtype=dtype, device=device))


def sdpa_values(sdpa: Callable) -> None:
    """Visible: the note's shapes, q, k, v of (B=3, h=8, T=4, d_k=2), without and with a causal mask."""
    q, k, v = _qkv((3, 8, 4, 2), 4, 2, seed=100)
    _expect_sdpa(sdpa, q, k, v)
    _expect_sdpa(sdpa, q, k, v, causal_mask(4))
    passed("sdpa_values", "matches the reference on (3, 8, 4, 2) inputs, with and without a causal mask")


def sdpa_shapes_and_dtypes(sdpa: Callable) -> None:
    """Hidden: B=2, h=3, T=5, S=6, d_k=7, d_v=4 (every size differs), 3-D inputs, float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        _expect_sdpa(sdpa, *_qkv((2, 3, 5, 7), 6, 4, seed=110, dtype=dtype))
        _expect_sdpa(sdpa, *_qkv((2, 5, 7), 6, 4, seed=120, dtype=dtype))
        _expect_sdpa(sdpa, *_qkv((1, 1, 7), 3, 4, seed=130, dtype=dtype))
    passed("sdpa_shapes_and_dtypes", "T≠S, d_k≠d_v, 3-D and 4-D inputs, float32 and float64")


def sdpa_masks(sdpa: Callable) -> None:
    """Hidden: random masks of shape (T, S), (B, 1, T, S) and (B, h, T, S); every row keeps a key."""
    for dtype in (torch.float32, torch.float64):
        q, k, v = _qkv((2, 3, 5, 7), 6, 4, seed=200, dtype=dtype)
        for i, shape in enumerate([(5, 6), (2, 1, 5, 6), (2, 3, 5, 6)]):
            _expect_sdpa(sdpa, q, k, v, random_mask(shape, seed=210 + i))
    passed("sdpa_masks", "broadcast masks (T, S), (B, 1, T, S), (B, h, T, S), True = may attend")


def sdpa_fully_masked_row(sdpa: Callable) -> None:
    """Hidden: a query row that may attend to nothing gets zero weights and a zero output."""
    for dtype in (torch.float32, torch.float64):
        q, k, v = _qkv((2, 3, 5, 7), 6, 4, seed=300, dtype=dtype)
        mask = random_mask((2, 3, 5, 6), seed=301)
        mask[0, 1, 2, :] = False
        mask[1, 2, 4, :] = False
        _expect_sdpa(sdpa, q, k, v, mask)
    passed("sdpa_fully_masked_row", "a row with no allowed key gives zeros, not NaN")


def sdpa_devices(sdpa: Callable) -> None:
    """Hidden: `meta` tensors (nothing created on a fixed device), and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        q, k, v = _qkv((2, 3, 5, 7), 6, 4, seed=0, dtype=dtype, device="meta")
        for mask in (None, torch.empty((2, 3, 5, 6), dtype=torch.bool, device="meta")):
            context = (f"for q, k, v{' and mask' if mask is not None else ' (no mask)'} on the meta device "
                       f"({str(dtype)[6:]}), which has shapes but no values")
            out, weights, want_out, want_w = _call_sdpa(sdpa, q, k, v, mask, context)
            expect_tensor(out, want_out, what="the output", context=context)
            expect_tensor(weights, want_w, what="the weights", context=context)

    def cuda_run() -> None:
        q, k, v = _qkv((2, 3, 5, 7), 6, 4, seed=310, device="cuda")
        mask = random_mask((2, 3, 5, 6), seed=311, device="cuda")
        mask[0, 0, 0, :] = False
        _expect_sdpa(sdpa, q, k, v, mask)

    passed("sdpa_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# attention_entropy


def _entropy_suspects(w: Tensor) -> dict[str, Callable[[], Tensor]]:
    plogp = lambda: torch.xlogy(w, w)
    return {
        "the minus sign is missing: log w ≤ 0 for weights in [0, 1], so −Σ w log w is ≥ 0.": lambda: plogp().sum(-1),
        "the entropy is in bits (log2); the course measures it in nats, with the natural log (torch.log).":
            lambda: -plogp().sum(-1) / math.log(2),
        "the sum ran over the queries (dim=-2); each query's entropy sums over its keys, the last axis.":
            lambda: -plogp().sum(-2),
        "you returned −Σ log w without the weights in front; entropy weighs each log w by w: −Σ w log w.":
            lambda: -torch.where(w > 0, w.log(), torch.zeros_like(w)).sum(-1),
        "−w log w was averaged over the keys (mean); the entropy is its sum over the keys, −Σ_s w_s log w_s.":
            lambda: -plogp().mean(-1),
        "a row of zeros (a query with nothing to attend to) got log S, as if its weights were uniform; it has no "
        "weights at all, and its entropy is 0.":
            lambda: torch.where(w.sum(-1) == 0, torch.full_like(w[..., 0], math.log(w.size(-1))), -plogp().sum(-1)),
        "the entropy was divided by log S (a share of the largest entropy); return it in nats: log S for a "
        "uniform row of S weights.": lambda: -plogp().sum(-1) / math.log(w.size(-1)),
        "softmax was applied to the weights again before the entropy; they already are a distribution, each row "
        "summing to 1 (or all zeros).": lambda: -torch.xlogy(w.softmax(-1), w.softmax(-1)).sum(-1),
    }


_ENTROPY_NAN = ("a weight of 0 gives 0 · log 0 = 0 · (−inf) = NaN. Its limit is 0: use torch.xlogy(w, w), which "
                "is 0 where w is 0, or torch.where(w > 0, w * w.log(), 0).")


def _expect_entropy(attention_entropy: Callable, w: Tensor) -> None:
    zeros = int((w == 0).sum()) if w.device.type != "meta" else 0
    context = f"for weights {tuple(w.shape)} ({str(w.dtype)[6:]})" + (f" with {zeros} zero weights" if zeros else "")
    got = call(attention_entropy, w, name="attention_entropy", context=context)
    expect_close(got, ref.attention_entropy(w), what="the entropy", context=context,
                 suspects=_entropy_suspects(w), nan_hint=_ENTROPY_NAN)


def entropy_values(attention_entropy: Callable) -> None:
    """Visible: weights of the note's shapes (3, 8, 4, 4), and rows that are uniform, one-hot and in between."""
    _expect_entropy(attention_entropy, ref.softmax(randn((3, 8, 4, 4), seed=400), -1))
    rows = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1], [0.5, 0.5, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    _expect_entropy(attention_entropy, rows)
    passed("entropy_values", "−Σ w log w per query: log 4 for a uniform row, 0 for a one-hot row")


def entropy_cases(attention_entropy: Callable) -> None:
    """Hidden: causal and fully masked rows (zeros), sizes that all differ, float64, `meta`, and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        q, k, v = _qkv((2, 3, 5, 7), 6, 4, seed=410, dtype=dtype)
        mask = random_mask((2, 3, 5, 6), seed=411)
        mask[1, 2, 4, :] = False  # a query with nothing to attend to: a row of zeros, entropy 0
        _expect_entropy(attention_entropy, ref.scaled_dot_product_attention(q, k, v, mask)[1])
        _expect_entropy(attention_entropy, ref.attention_weights(*_qkv((1, 4, 7), 4, 7, seed=412, dtype=dtype)[:2],
                                                                 causal_mask(4)))
        w = torch.empty((2, 3, 5, 6), dtype=dtype, device="meta")
        context = f"for weights on the meta device ({str(dtype)[6:]}), which has shapes but no values"
        got = call(attention_entropy, w, name="attention_entropy", context=context)
        expect_tensor(got, ref.attention_entropy(w), what="the entropy", context=context)

    def cuda_run() -> None:
        _expect_entropy(attention_entropy, ref.softmax(randn((2, 3, 5, 6), seed=413, device="cuda"), -1))

    passed("entropy_cases", f"causal and fully masked rows, float32 and float64, meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run


def score_scale_form(answer_score_scale: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_score_scale, what="answer_score_scale")
    form_passed("score_scale_form", "one number")


def score_scale_question(answer_score_scale: object) -> None:
    """Hidden: the divisor that gives q·k unit variance, for d_k = 16 and entries of variance 4."""
    got = read_float(answer_score_scale, what="answer_score_scale")
    d_k, variance = 16, 4.0
    want = math.sqrt(d_k * variance * variance)
    expect_answer(got, want, name="score_scale_question", close=near(),
                  summary=f"{want:g}: q·k has variance d_k · 4 · 4 = {d_k * variance ** 2:g}, so divide by its square root",
                  why=("each product q_i k_i of independent, mean-0 entries has variance Var(q_i)·Var(k_i) = 4 · 4 = 16, "
                       "and the d_k = 16 products add their variances: Var(q·k) = 256. Dividing by √256 = 16 brings it "
                       "back to 1. With entries of variance 1 this is the √d_k of the chapter; in general the scale "
                       "is the standard deviation of the scores."),
                  wrong={4.0: "√d_k = 4 assumes entries of variance 1; here each entry has variance 4, and a product of "
                              "two such entries has variance 16.",
                         256.0: "256 is the variance of q·k; dividing by a number divides the variance by its square, so "
                                "divide by √256 = 16.",
                         8.0: "√(16 · 4) = 8 counts the variance 4 once; q_i and k_i both have variance 4, so each "
                              "product has 16.",
                         64.0: "64 = 16 · 4 counts the variance of one factor; each product has variance 4 · 4."})


def masked_entropy_form(answer_masked_entropy: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_masked_entropy, what="answer_masked_entropy")
    form_passed("masked_entropy_form", "one number")


def masked_entropy_question(answer_masked_entropy: object) -> None:
    """Hidden: the entropy of a query with equal scores on 4 keys and the other 12 masked."""
    got = read_float(answer_masked_entropy, what="answer_masked_entropy")
    scores = torch.full((16,), 2.5, dtype=torch.float64)
    scores[4:] = float("-inf")
    want = ref.attention_entropy(ref.softmax(scores)).item()
    expect_answer(got, want, name="masked_entropy_question", close=near(),
                  summary=f"log 4 ≈ {want:.4f}: a uniform row over the 4 keys it may attend to",
                  why=("the 12 masked keys get weight exactly 0 and add 0 · log 0 = 0 to the entropy; the 4 others get "
                       "1/4 each, so −Σ w log w = −4 · (1/4) log(1/4) = log 4 ≈ 1.386. The entropy counts the keys a "
                       "query really spreads over: e^entropy = 4 here."),
                  wrong={math.log(16): "log 16 would spread the weight over all 16 keys; the masked ones get exactly 0.",
                         4.0: "4 is e^entropy, the number of keys it spreads over; the entropy itself is log 4.",
                         2.0: "2 is log₂ 4, the entropy in bits; the course measures it in nats, log 4 ≈ 1.386.",
                         0.0: "0 is the entropy of a row with all its weight on one key; this one spreads over 4."})


def saturation_form(answer_saturation: object) -> None:
    """Visible: the answer is one of the letters a, b, c."""
    read_choice(answer_saturation, "abc", what="answer_saturation")
    form_passed("saturation_form", "one letter")


def saturation_question(answer_saturation: object) -> None:
    """Hidden: what the measured entropies with and without 1/√d_k show."""
    got = read_choice(answer_saturation, "abc", what="answer_saturation")
    g = torch.Generator().manual_seed(4)  # the notebook's experiment
    q, k = torch.randn(1, 16, 64, generator=g), torch.randn(1, 16, 64, generator=g)
    scores = q @ k.transpose(-2, -1)
    raw, scaled = (ref.attention_entropy(ref.softmax(s)).mean().item() for s in (scores, scores / 8))
    expect_answer(got, "a", name="saturation_question",
                  summary=f"(a): without the scale the mean entropy is {raw:.2f}, near one-hot; with it {scaled:.2f}",
                  why=(f"your measurement: without 1/√d_k the scores have a spread of about √64 = 8, and the weights "
                       f"are nearly one-hot (mean entropy {raw:.2f}, where a uniform row over 16 keys has log 16 = "
                       f"2.77); with it, {scaled:.2f}. A saturated softmax also has gradients near 0, which is the "
                       f"reason Vaswani et al. give for the scale."),
                  wrong={"b": f"the measured entropy is lower without the scale ({raw:.2f} against {scaled:.2f}): "
                              f"the weights are sharper, not more uniform.",
                         "c": f"the two measured entropies differ a lot ({raw:.2f} and {scaled:.2f}): the scale changes "
                              f"the weights, not only the scores' size."})
