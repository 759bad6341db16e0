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
from mhsa_ref.checks._questions import expect_answer, form_passed, near, read_float

__all__ = [
    "softmax_values",
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
    "dot_variance_form",
    "dot_variance_question",
    "uniform_entropy_form",
    "uniform_entropy_question",
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


def dot_variance_form(answer_dot_variance: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_dot_variance, what="answer_dot_variance")
    form_passed("dot_variance_form", "one number")


def dot_variance_question(answer_dot_variance: object) -> None:
    """Hidden: the variance of q · k for d_k = 64 independent standard normal entries (unscaled)."""
    got = read_float(answer_dot_variance, what="answer_dot_variance")
    d_k = 64
    want = float(d_k)  # a sum of d_k independent products, each of variance Var(q_i)·Var(k_i) = 1
    expect_answer(got, want, name="dot_variance_question", close=near(rel=1e-2),
                  summary=f"{want:g} = d_k: the variance grows with the width, hence the 1/√d_k",
                  why=(f"q · k = Σ_i q_i k_i is a sum of d_k = {d_k} independent products. Each has mean 0 and "
                       f"variance E[q_i²] E[k_i²] = 1 · 1 = 1, and variances of independent terms add: "
                       f"Var(q · k) = d_k = {d_k}, a standard deviation of {d_k ** 0.5:g}. Scores that far apart "
                       f"push softmax to nearly one-hot rows with vanishing gradients; dividing by √d_k = "
                       f"{d_k ** 0.5:g} brings the variance back to 1, whatever d_k."),
                  wrong={1.0: "1 is the variance after dividing by √d_k; before, the d_k products' variances add up.",
                         8.0: "8 = √64 is the standard deviation of q · k; its variance is the square, 64.",
                         0.0: "0 is the mean of q · k; its variance is the sum of the d_k products' variances.",
                         4096.0: "each product q_i k_i has variance 1, not d_k: the sum has variance d_k, not d_k²."})


def uniform_entropy_form(answer_uniform_entropy: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_uniform_entropy, what="answer_uniform_entropy")
    form_passed("uniform_entropy_form", "one number")


def uniform_entropy_question(answer_uniform_entropy: object) -> None:
    """Hidden: the entropy of a query whose 8 scores are all equal."""
    got = read_float(answer_uniform_entropy, what="answer_uniform_entropy")
    S = 8
    want = ref.attention_entropy(ref.softmax(torch.zeros(1, S, dtype=torch.float64), -1)).item()
    expect_answer(got, want, name="uniform_entropy_question", close=near(),
                  summary=f"log 8 ≈ {want:.4f}: equal scores give equal weights 1/8, the most spread-out row",
                  why=(f"equal scores give equal weights, softmax = 1/{S} for each key (whatever the common score), "
                       f"so the entropy is −Σ (1/{S}) log(1/{S}) = log {S} ≈ {want:.3f} nats: the largest entropy a "
                       f"row over {S} keys can have. A query that takes everything from one key has entropy 0; "
                       f"exp(entropy) reads as 'how many keys the query effectively looks at', here {S}."),
                  wrong={0.0: "0 is the entropy of a one-hot row (all the weight on one key); equal scores spread the "
                              "weight evenly.",
                         1.0: "the weights sum to 1, but the entropy is −Σ w log w = log 8 for 8 equal weights.",
                         3.0: "3 = log2(8) is the entropy in bits; the course uses the natural log (nats): log 8.",
                         0.125: "1/8 is each key's weight; the entropy is −Σ w log w over the 8 keys."})
