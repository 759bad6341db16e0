"""Named checks for exercise 07_concat_and_output: one function per graded cell of the notebook.

Visible checks use the lecture note's sizes: heads of (B=3, h=8, T=4, d_k=2) merged back to
(3, 4, 16), and the whole layer on X of (3, 4, 16). Hidden ones use sizes that all differ
(B=2, T=5, h=8, d_k=7), one head, float64, masks of every accepted shape, a query with nothing to
attend to, `meta` tensors, and CUDA when present. The module is compared with
`nn.MultiheadAttention` given the same weights, including its opposite boolean-mask convention.
`F.scaled_dot_product_attention`, `nn.MultiheadAttention` and `mhsa_ref` are not allowed in the
learner's code.
"""

from __future__ import annotations

import importlib
import math
from typing import Callable

import torch
from torch import Tensor, nn

from mhsa_ref import _validate
from mhsa_ref.checks._core import (dtype_name, CheckFailure, call, expect_close, expect_results, expect_tensor, on_cuda, passed,
                                   randn, random_mask, with_head_axis_hint)
from mhsa_ref.checks.attention import ATTENTION_RULES
from mhsa_ref.checks._questions import expect_answer, form_passed, read_head, read_int, read_ints
from mhsa_ref.split_heads import split_heads

ref = importlib.import_module("mhsa_ref.concat_and_output")

__all__ = [
    "merge_values",
    "merge_shapes_and_round_trip",
    "merge_devices",
    "layer_values",
    "layer_shapes_and_dtypes",
    "layer_masks",
    "layer_devices",
    "module_structure",
    "module_matches_torch",
    "module_options_and_devices",
    "contributions_values",
    "contributions_cases",
    "params_vs_heads_form",
    "params_vs_heads_question",
    "merge_index_form",
    "merge_index_question",
    "layer_inputs",
    "expect_layer",
    "largest_contribution_form",
    "largest_contribution_question",
]


# ---------------------------------------------------------------------------------------------
# merge_heads


def _merge_suspects(x: Tensor) -> dict[str, Callable[[], Tensor]]:
    B, h, T, d_k = x.shape
    return {
        "the heads were not brought back next to their token: reshape(B, T, h·d_k) straight from (B, h, T, d_k) "
        "cuts across tokens. transpose(1, 2) first, to (B, T, h, d_k), then join the last two axes.":
            lambda: x.reshape(B, T, h * d_k),
        "the features were interleaved (feature j of every head, then j+1, …): the concatenation is head-major, "
        "head 0's d_k features first, so transpose(1, 2) and reshape, without moving d_k before h.":
            lambda: x.permute(0, 2, 3, 1).reshape(B, T, h * d_k),
        "the heads were joined in reverse order; head 0 comes first.": lambda: x.flip(1).transpose(1, 2).reshape(B, T, h * d_k),
    }


def _expect_merge(merge_heads: Callable, x: Tensor) -> None:
    context = f"for x {tuple(x.shape)} ({dtype_name(x)}{', not contiguous' if not x.is_contiguous() else ''})"
    got = call(merge_heads, x, name="merge_heads", rules=ATTENTION_RULES, context=context)
    want = ref.merge_heads(x)
    if want.device.type == "meta":
        expect_tensor(got, want, what="the merged heads", context=context)
        return
    expect_close(got, want, what="the merged heads", context=context, suspects=_merge_suspects(x))


def merge_values(merge_heads: Callable) -> None:
    """Visible: heads of the note's size (3, 8, 4, 2) -> (3, 4, 16)."""
    _expect_merge(merge_heads, torch.arange(3 * 8 * 4 * 2, dtype=torch.float32).reshape(3, 8, 4, 2))
    _expect_merge(merge_heads, randn((3, 8, 4, 2), seed=700))
    passed("merge_values", "(3, 8, 4, 2) -> (3, 4, 16), head 0's features first for every token")


def merge_shapes_and_round_trip(merge_heads: Callable) -> None:
    """Hidden: (2, 8, 5, 7) and one head, float32 and float64; merge_heads(split_heads(x)) == x."""
    for dtype in (torch.float32, torch.float64):
        _expect_merge(merge_heads, randn((2, 8, 5, 7), seed=710, dtype=dtype))
        _expect_merge(merge_heads, randn((2, 1, 5, 7), seed=711, dtype=dtype))
        x = randn((2, 5, 56), seed=712, dtype=dtype)
        _expect_merge(merge_heads, split_heads(x, 8))  # a non-contiguous view, as split_heads returns
        context = f"for split_heads(x, 8) of x {tuple(x.shape)} ({dtype_name(x)})"
        got = call(merge_heads, split_heads(x, 8), name="merge_heads", rules=ATTENTION_RULES, context=context)
        expect_close(got, x, what="merge_heads(split_heads(x))", context=context + ": merging must undo the split")
    passed("merge_shapes_and_round_trip", "(2, 8, 5, 7), one head, non-contiguous input, and merge ∘ split = identity")


def merge_devices(merge_heads: Callable) -> None:
    """Hidden: `meta` tensors, and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        _expect_merge(merge_heads, randn((2, 8, 5, 7), seed=0, dtype=dtype, device="meta"))

    def cuda_run() -> None:
        _expect_merge(merge_heads, randn((2, 8, 5, 7), seed=720, device="cuda"))

    passed("merge_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# multi_head_self_attention (shared with exercise 08, which grades the same layer on the GPU path)


def layer_inputs(b: int, t: int, d_model: int, *, seed: int, dtype=torch.float32, device="cpu"):
    """x (B, T, d_model) and four (d_model, d_model) weights scaled like trained ones (scores of order 1)."""
    scale = 1 / math.sqrt(d_model)
    x = randn((b, t, d_model), seed=seed, dtype=dtype, device=device)
    return (x, *(randn((d_model, d_model), seed=seed + i, dtype=dtype, device=device) * scale for i in range(1, 5)))


def _layer_variant(x, w_q, w_k, w_v, w_o, h, mask, *, scale=None, merge=None, w_o_fn=None, dim=-1):
    B, T, d_model = x.shape
    d_k = d_model // h
    qh, kh, vh = (split_heads(x @ w, h) for w in (w_q, w_k, w_v))
    m = _validate.head_mask(mask, B, h, T, T, x.device)
    scores = qh @ kh.transpose(-2, -1) * (scale if scale is not None else 1 / math.sqrt(d_k))
    if m is not None:
        scores = scores.masked_fill(~m, float("-inf"))
    weights = torch.softmax(scores, dim).nan_to_num(0.0)
    z = weights @ vh  # (B, h, T, d_k)
    merged = merge(z) if merge is not None else ref.merge_heads(z)
    return (w_o_fn(merged) if w_o_fn is not None else merged @ w_o), weights


def _layer_suspects(x, w_q, w_k, w_v, w_o, h, mask, part: int) -> dict[str, Callable[[], Tensor]]:
    B, T, d_model = x.shape
    make = lambda **kw: (lambda: _layer_variant(x, w_q, w_k, w_v, w_o, h, mask, **kw)[part])
    suspects = {
        "the scores were scaled by 1/√d_model; each head compares vectors of width d_k = d_model / h, so the scale "
        "is 1/√d_k.": make(scale=1 / math.sqrt(d_model)),
        "the scores were not scaled; divide by √d_k.": make(scale=1.0),
        "softmax ran over the queries (dim=-2); each query's weights over the keys (dim=-1) must sum to 1.": make(dim=-2),
    }
    if part == 0:
        suspects.update({
            "W^O was not applied: the output is the concatenated heads. Multiply them by w_o, which mixes the heads.":
                make(w_o_fn=lambda m: m),
            "W^O was transposed: out = concat @ w_o, with w_o of shape (d_model, d_model) used as x @ w.":
                make(w_o_fn=lambda m: m @ w_o.T),
            "the heads were merged without transpose(1, 2): reshape(B, T, d_model) straight from (B, h, T, d_k) "
            "mixes tokens.": make(merge=lambda z: z.reshape(B, T, d_model)),
        })
    if mask is not None:
        suspects["the mask is inverted: in this course True means 'may attend' (nn.MultiheadAttention's boolean "
                 "attn_mask is the opposite)."] = lambda: _layer_variant(x, w_q, w_k, w_v, w_o, h, ~mask)[part]
    return suspects


_NAN = ("a query whose keys are all masked gives NaN: softmax of a row of -inf is 0/0. Such a row must give zero "
        "weights and a zero output, e.g. weights.nan_to_num(0.0) after torch.softmax.")


def _layer_context(x: Tensor, h: int, mask: Tensor | None) -> str:
    return (f"for x {tuple(x.shape)} ({dtype_name(x)}) on {x.device}, four ({x.size(-1)}, {x.size(-1)}) weights, "
            f"num_heads={h}" + (f", mask {tuple(mask.shape)}" if mask is not None else ""))


def expect_layer(layer: Callable, x, w_q, w_k, w_v, w_o, h, mask=None, *, want=None,
                 tol: tuple[float, float] | None = None, against: str = "") -> None:
    """The learner's whole layer against the reference: out (and the weights) within tolerance.

    want: (out, weights or None) to compare with instead of the explicit reference (e.g. the fused
    path's output); tol: the tolerance to use instead of the dtype's; against: said in messages.
    """
    context = _layer_context(x, h, mask) + (f", compared with {against}" if against else "")
    try:
        got = call(layer, x, w_q, w_k, w_v, w_o, h, mask, name="multi_head_self_attention", rules=ATTENTION_RULES,
                   context=context)
    except CheckFailure as e:
        raise with_head_axis_hint(e, mask) from e
    out, weights = expect_results(got, ("out", "weights"), name="multi_head_self_attention", context=context)
    want_out, want_w = want if want is not None else ref.multi_head_self_attention(x, w_q, w_k, w_v, w_o, h, mask)
    if want_out.device.type == "meta":
        expect_tensor(out, want_out, what="out", context=context)
        expect_tensor(weights, want_w, what="the weights", context=context)
        return
    if isinstance(weights, Tensor) and weights.dim() == 3 and weights.shape == want_w.shape[:1] + want_w.shape[2:]:
        raise CheckFailure(f"the weights have shape {tuple(weights.shape)} {context}; expected {tuple(want_w.shape)}, "
                           f"one (T, T) matrix per head. Return the per-head weights, not their average over the heads "
                           f"(nn.MultiheadAttention averages them by default).")
    if want_w is not None:
        expect_close(weights, want_w, what="the weights", context=context, nan_hint=_NAN, tol=tol,
                     suspects=_layer_suspects(x, w_q, w_k, w_v, w_o, h, mask, 1))
    expect_close(out, want_out, what="out", context=context, nan_hint=_NAN, tol=tol,
                 suspects=_layer_suspects(x, w_q, w_k, w_v, w_o, h, mask, 0))


def layer_values(layer: Callable) -> None:
    """Visible: X of the note's size (3, 4, 16), 8 heads of d_k = 2, without and with a causal mask."""
    inputs = layer_inputs(3, 4, 16, seed=730)
    expect_layer(layer, *inputs, 8)
    expect_layer(layer, *inputs, 8, torch.ones(4, 4, dtype=torch.bool).tril())
    passed("layer_values", "out (3, 4, 16) and weights (3, 8, 4, 4) with and without a causal mask")


def layer_shapes_and_dtypes(layer: Callable) -> None:
    """Hidden: B=2, T=5, h=8, d_k=7 (all differ); one head; B = T = 1; float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        inputs = layer_inputs(2, 5, 56, seed=740, dtype=dtype)
        expect_layer(layer, *inputs, 8)
        expect_layer(layer, *inputs, 1)
        expect_layer(layer, *layer_inputs(1, 1, 6, seed=745, dtype=dtype), 3)
    passed("layer_shapes_and_dtypes", "B=2, T=5, h=8, d_k=7; one head; B = T = 1; float32 and float64")


def layer_masks(layer: Callable) -> None:
    """Hidden: masks (T, T), (B, T, T) and (B, h, T, T); a query with nothing to attend to."""
    for dtype in (torch.float32, torch.float64):
        inputs = layer_inputs(2, 5, 56, seed=750, dtype=dtype)
        for seed, shape in enumerate([(5, 5), (2, 5, 5), (2, 8, 5, 5)]):
            expect_layer(layer, *inputs, 8, random_mask(shape, seed=751 + seed))
        empty = random_mask((2, 5, 5), seed=755)
        empty[0, 4, :] = False
        expect_layer(layer, *inputs, 8, empty)
    passed("layer_masks", "(T, T), (B, T, T) and (B, h, T, T) masks; a fully masked row gives a zero output")


def layer_devices(layer: Callable) -> None:
    """Hidden: `meta` tensors (nothing created on a fixed device), and CUDA (float32, TF32 off) when present."""
    for dtype in (torch.float32, torch.float64):
        inputs = layer_inputs(2, 5, 56, seed=0, dtype=dtype, device="meta")
        expect_layer(layer, *inputs, 8)
        expect_layer(layer, *inputs, 8, torch.empty((2, 5, 5), dtype=torch.bool, device="meta"))

    def cuda_run() -> None:
        expect_layer(layer, *layer_inputs(2, 5, 56, seed=760, device="cuda"), 8,
                     random_mask((2, 5, 5), seed=761, device="cuda"))

    passed("layer_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# MultiHeadSelfAttention


def _build(cls: Callable, d_model: int, h: int, bias: bool = True):
    context = f"MultiHeadSelfAttention({d_model}, {h}, bias={bias})"
    module = call(cls, d_model, h, bias=bias, name="MultiHeadSelfAttention", rules=ATTENTION_RULES, context="")
    if not isinstance(module, nn.Module):
        raise CheckFailure(f"{context} is a {type(module).__name__}; it should subclass nn.Module "
                           f"(class MultiHeadSelfAttention(nn.Module), with super().__init__() first).")
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        linear = getattr(module, name, None)
        if not isinstance(linear, nn.Linear):
            raise CheckFailure(f"{context} has no nn.Linear attribute `{name}` (found {type(linear).__name__}); the "
                               f"four projections are q_proj, k_proj, v_proj and out_proj, each nn.Linear(d_model, d_model).")
        if (linear.in_features, linear.out_features) != (d_model, d_model):
            raise CheckFailure(f"{context}.{name} is nn.Linear({linear.in_features}, {linear.out_features}); expected "
                               f"nn.Linear({d_model}, {d_model}): every head's slice lives inside one d_model-wide projection.")
        if (linear.bias is not None) != bias:
            raise CheckFailure(f"{context}.{name} {'has' if linear.bias is not None else 'has no'} bias; pass "
                               f"bias=bias to every nn.Linear.")
    want = 4 * (d_model * d_model + (d_model if bias else 0))
    got = sum(p.numel() for p in module.parameters())
    if got != want:
        raise CheckFailure(f"{context} has {got} parameters; expected {want} (four d_model × d_model projections"
                           f"{' and their biases' if bias else ''}, nothing else).")
    return module


def _copy_from_torch(module: nn.Module, mha: nn.MultiheadAttention) -> None:
    d = mha.embed_dim
    with torch.no_grad():
        for i, name in enumerate(("q_proj", "k_proj", "v_proj")):
            getattr(module, name).weight.copy_(mha.in_proj_weight[i * d:(i + 1) * d])
            if mha.in_proj_bias is not None:
                getattr(module, name).bias.copy_(mha.in_proj_bias[i * d:(i + 1) * d])
        module.out_proj.weight.copy_(mha.out_proj.weight)
        if mha.out_proj.bias is not None:
            module.out_proj.bias.copy_(mha.out_proj.bias)


def _torch_layer(d_model: int, h: int, *, bias: bool, seed: int, dtype=torch.float32) -> nn.MultiheadAttention:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mha = nn.MultiheadAttention(d_model, h, bias=bias, batch_first=True, dtype=dtype)
        if bias:
            with torch.no_grad():  # PyTorch starts biases at 0, which would hide a missing bias
                mha.in_proj_bias.normal_(0, 0.5)
                mha.out_proj.bias.normal_(0, 0.5)
    return mha.eval()


def _expect_module(cls: Callable, x: Tensor, h: int, mask: Tensor | None, *, bias: bool, seed: int) -> None:
    d_model = x.size(-1)
    mha = _torch_layer(d_model, h, bias=bias, seed=seed, dtype=x.dtype)
    module = _build(cls, d_model, h, bias).to(dtype=x.dtype)
    _copy_from_torch(module, mha)
    with torch.no_grad():
        want_out, want_w = mha(x, x, x, attn_mask=None if mask is None else ~_torch_mask(mask, h),
                               need_weights=True, average_attn_weights=False)
    context = (f"for MultiHeadSelfAttention({d_model}, {h}, bias={bias}) given nn.MultiheadAttention's weights, x "
               f"{tuple(x.shape)} ({dtype_name(x)})" + (f", mask {tuple(mask.shape)}" if mask is not None else ""))
    try:
        with torch.no_grad():
            got = call(module, x, mask, name="MultiHeadSelfAttention.forward", rules=ATTENTION_RULES, context=context)
    except CheckFailure as e:
        raise with_head_axis_hint(e, mask) from e
    out, weights = expect_results(got, ("out", "weights"), name="MultiHeadSelfAttention.forward", context=context)
    if isinstance(weights, Tensor) and weights.shape == want_w.mean(1).shape:
        raise CheckFailure(f"the weights have shape {tuple(weights.shape)} {context}; expected {tuple(want_w.shape)}, "
                           f"one (T, T) matrix per head. Return the per-head weights, not their average.")
    suspects_out: dict[str, Callable[[], Tensor]] = {}
    suspects_w: dict[str, Callable[[], Tensor]] = {}
    if bias:
        plain = ref.multi_head_self_attention(x, mha.in_proj_weight[:d_model].T, mha.in_proj_weight[d_model:2 * d_model].T,
                                              mha.in_proj_weight[2 * d_model:].T, mha.out_proj.weight.T, h, mask)
        dropped = "the biases were dropped: use the nn.Linear layers themselves (self.q_proj(x)), not x @ weight.T."
        suspects_out[dropped] = lambda: plain[0].detach()
        suspects_w[dropped] = lambda: plain[1].detach()
    suspects_out["out_proj was not applied to the concatenated heads."] = lambda: _torch_concat(mha, x, mask, h).detach()
    if mask is not None:
        inverted = ("the mask is inverted: here True means 'may attend'; nn.MultiheadAttention's boolean attn_mask "
                    "uses True for 'blocked', so the comparison passes it ~mask.")
        with torch.no_grad():
            inv_out, inv_w = mha(x, x, x, attn_mask=_torch_mask(mask, h), need_weights=True, average_attn_weights=False)
        suspects_out[inverted] = lambda: inv_out
        suspects_w[inverted] = lambda: inv_w
    expect_close(weights, want_w, what="the weights", context=context, suspects=suspects_w, nan_hint=_NAN)
    expect_close(out, want_out, what="out", context=context, suspects=suspects_out, nan_hint=_NAN)


def _torch_mask(mask: Tensor, h: int) -> Tensor:
    """Our (T, T) or (B, T, T) mask in nn.MultiheadAttention's shapes: (T, T) or (B·h, T, T)."""
    return mask if mask.dim() == 2 else mask.repeat_interleave(h, dim=0)


def _torch_concat(mha: nn.MultiheadAttention, x: Tensor, mask: Tensor | None, h: int) -> Tensor:
    """What `mha` computes before its out_proj (the concatenated heads)."""
    d = mha.embed_dim
    w, b = mha.in_proj_weight, mha.in_proj_bias
    proj = [x @ w[i * d:(i + 1) * d].T + (b[i * d:(i + 1) * d] if b is not None else 0) for i in range(3)]
    qh, kh, vh = (split_heads(p, h) for p in proj)
    z, _ = importlib.import_module("mhsa_ref.attention").scaled_dot_product_attention(
        qh, kh, vh, _validate.head_mask(mask, x.size(0), h, x.size(1), x.size(1), x.device))
    return ref.merge_heads(z)


def module_structure(cls: Callable) -> None:
    """Visible: four nn.Linear(d_model, d_model) named q_proj, k_proj, v_proj, out_proj; bias follows `bias`."""
    for bias in (True, False):
        _build(cls, 16, 8, bias)
    passed("module_structure", "an nn.Module with q_proj, k_proj, v_proj, out_proj = nn.Linear(16, 16), bias on and off")


def module_matches_torch(cls: Callable) -> None:
    """Visible: equal to nn.MultiheadAttention(16, 8, batch_first=True) given its weights, without and with a mask."""
    x = randn((3, 4, 16), seed=780)
    _expect_module(cls, x, 8, None, bias=True, seed=781)
    _expect_module(cls, x, 8, torch.ones(4, 4, dtype=torch.bool).tril(), bias=True, seed=782)
    passed("module_matches_torch", "equals nn.MultiheadAttention given the same weights; our mask is its ~attn_mask")


def module_options_and_devices(cls: Callable) -> None:
    """Hidden: bias=False, d_model=56 with 8 heads, float64, a (B, T, T) mask, `meta`, and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        x = randn((2, 5, 56), seed=790, dtype=dtype)
        _expect_module(cls, x, 8, random_mask((2, 5, 5), seed=791), bias=False, seed=792)
        _expect_module(cls, x, 8, random_mask((5, 5), seed=793), bias=True, seed=794)
    module = _build(cls, 56, 8).to("meta")
    x = torch.empty((2, 5, 56), device="meta")
    for mask in (None, torch.empty((2, 5, 5), dtype=torch.bool, device="meta")):
        context = "for the module and x on the meta device" + (" with a (B, T, T) mask" if mask is not None else "")
        got = call(module, x, mask, name="MultiHeadSelfAttention.forward", rules=ATTENTION_RULES, context=context)
        out, weights = expect_results(got, ("out", "weights"), name="MultiHeadSelfAttention.forward", context=context)
        expect_tensor(out, torch.empty((2, 5, 56), device="meta"), what="out", context=context)
        expect_tensor(weights, torch.empty((2, 8, 5, 5), device="meta"), what="the weights", context=context)

    def cuda_run() -> None:
        cuda_module = _build(cls, 56, 8).cuda()
        reference = ref.MultiHeadSelfAttention(56, 8).cuda()
        reference.load_state_dict({k: v for k, v in cuda_module.state_dict().items()
                                   if k.split(".")[0] in ("q_proj", "k_proj", "v_proj", "out_proj")})
        x = randn((2, 5, 56), seed=795, device="cuda")
        mask = random_mask((2, 5, 5), seed=796, device="cuda")
        context = "for the module and x on CUDA"
        with torch.no_grad():
            got = call(cuda_module, x, mask, name="MultiHeadSelfAttention.forward", rules=ATTENTION_RULES,
                       context=context)
            want = reference(x, mask)
        out, weights = expect_results(got, ("out", "weights"), name="MultiHeadSelfAttention.forward", context=context)
        expect_close(out, want[0], what="out", context=context)
        expect_close(weights, want[1], what="the weights", context=context)

    passed("module_options_and_devices", f"bias=False, float64, (B, T, T) masks, meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# head_contributions


def _contributions_suspects(z: Tensor, w_o: Tensor) -> dict[str, Callable[[], Tensor]]:
    B, h, T, d_k = z.shape
    want = lambda: ref.head_contributions(z, w_o)
    suspects = {
        "the heads' rows of w_o were dealt out round-robin (row j to head j % h); head i's block is the d_k "
        "consecutive rows i·d_k … (i+1)·d_k − 1, the rows that meet its features in the concatenation: "
        "w_o.reshape(h, d_k, d_out).": lambda: z @ w_o.reshape(d_k, h, w_o.size(1)).transpose(0, 1),
        "the contributions were averaged over the heads (divided by h); the layer adds them: "
        "Concat(Z_0, …, Z_{h−1}) W^O = Σ_i Z_i W^O_i.": lambda: want() / h,
        "every head was multiplied by the first block of rows, w_o[:d_k]; head i's block is its own, rows "
        "i·d_k … (i+1)·d_k − 1.": lambda: z @ w_o[:d_k],
        "the blocks of w_o were taken in reverse order (head i with block h − 1 − i); head 0's rows come first, as "
        "its features come first in the concatenation.": lambda: z @ w_o.reshape(h, d_k, w_o.size(1)).flip(0),
        "z was reshaped to (B, T, h, d_k) without moving its axes: z is (B, h, T, d_k), so that reshape mixes "
        "heads and tokens. Index head i as z[:, i] (B, T, d_k), or keep z as it is and multiply by "
        "w_o.reshape(h, d_k, d_out).": lambda: torch.stack(
            [z.reshape(B, T, h, d_k)[:, :, i] @ w_o[i * d_k:(i + 1) * d_k] for i in range(h)], 1),
        "each head got an equal share of the layer's output, (merge_heads(z) @ w_o) / h: the sum is right, the "
        "parts are not. Head i's part is what its own features give through its own rows, Z_i W^O_i.":
            lambda: (want().sum(1, keepdim=True) / h).expand(B, h, T, w_o.size(1)),
        "w_o was reshaped to (h, d_out, d_k) and transposed; a reshape keeps the order of the rows, so head i's "
        "block is w_o.reshape(h, d_k, d_out)[i], with no transpose.":
            lambda: z @ w_o.reshape(h, w_o.size(1), d_k).transpose(1, 2),
    }
    if w_o.size(0) == w_o.size(1):
        suspects["you took columns of w_o (w_o[:, i·d_k:(i+1)·d_k], transposed); head i's part is its block of "
                 "rows, w_o[i·d_k:(i+1)·d_k], the rows that multiply head i's features in merge_heads(z) @ w_o."] = (
            lambda: z @ w_o.reshape(w_o.size(0), h, d_k).permute(1, 2, 0))
    suspects["you returned the layer's output, the sum over the heads, (B, T, d_out); return every head's "
             "contribution, (B, h, T, d_out), before the sum."] = lambda: want().sum(1)
    return suspects


def _expect_contributions(head_contributions: Callable, z: Tensor, w_o: Tensor) -> None:
    context = f"for z {tuple(z.shape)} and w_o {tuple(w_o.shape)} ({dtype_name(z)})"
    got = call(head_contributions, z, w_o, name="head_contributions", rules=ATTENTION_RULES, context=context)
    want = ref.head_contributions(z, w_o)
    if want.device.type == "meta":
        expect_tensor(got, want, what="the contributions", context=context)
        return
    expect_close(got, want, what="the contributions", context=context, suspects=_contributions_suspects(z, w_o))


def contributions_values(head_contributions: Callable) -> None:
    """Visible: the note's heads (3, 8, 4, 2) and a (16, 16) w_o."""
    z, w_o = randn((3, 8, 4, 2), seed=700), randn((16, 16), seed=701) / 4
    _expect_contributions(head_contributions, z, w_o)
    passed("contributions_values", "(3, 8, 4, 2) heads -> (3, 8, 4, 16); summed over the heads, merge_heads(z) @ w_o")


def contributions_cases(head_contributions: Callable) -> None:
    """Hidden: (2, 8, 5, 7) with w_o (56, 56) and (56, 10); one head; float64; `meta`; CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        z = randn((2, 8, 5, 7), seed=710, dtype=dtype)
        _expect_contributions(head_contributions, z, randn((56, 56), seed=711, dtype=dtype) / 7)
        _expect_contributions(head_contributions, z, randn((56, 10), seed=712, dtype=dtype) / 7)
        _expect_contributions(head_contributions, randn((2, 1, 5, 7), seed=713, dtype=dtype), randn((7, 7), seed=714, dtype=dtype))
        _expect_contributions(head_contributions, randn((2, 8, 5, 7), seed=0, dtype=dtype, device="meta"),
                              randn((56, 56), seed=0, dtype=dtype, device="meta"))

    def cuda_run() -> None:
        _expect_contributions(head_contributions, randn((2, 8, 5, 7), seed=715, device="cuda"),
                              randn((56, 56), seed=716, device="cuda") / 7)

    passed("contributions_cases", f"w_o square and not, one head, float32 and float64, meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run


def _parameters(d_model: int, h: int) -> int:
    layer = ref.MultiHeadSelfAttention(d_model, h, device="meta")  # shapes only: no memory, no random numbers
    return sum(p.numel() for p in layer.parameters())


def params_vs_heads_form(answer_params_vs_heads: object) -> None:
    """Visible: the answer is one int."""
    read_int(answer_params_vs_heads, what="answer_params_vs_heads", minimum=-10**12)
    form_passed("params_vs_heads_form", "one int")


def params_vs_heads_question(answer_params_vs_heads: object) -> None:
    """Hidden: how many more parameters a 512-wide layer has with 8 heads than with 1."""
    got = read_int(answer_params_vs_heads, what="answer_params_vs_heads", minimum=-10**12)
    d = 512
    want = _parameters(d, 8) - _parameters(d, 1)
    one = _parameters(d, 1)
    expect_answer(got, want, name="params_vs_heads_question",
                  summary=f"{want}: both layers have {one:,} parameters; heads cut W^Q, W^K, W^V, they add none",
                  why=(f"the layer's parameters are W^Q, W^K, W^V and W^O, four ({d}, {d}) matrices, and their four "
                       f"biases: 4·{d}² + 4·{d} = {one:,}, whatever h. More heads cut the same projections into more, "
                       f"narrower blocks (d_k = {d}/h); they add no weight. What h changes is the computation: h score "
                       f"matrices of width d_k = {d // 8} instead of one of width {d}."),
                  wrong={7 * 4 * d * d: "each head does not get its own full (d_model, d_model) matrices: head i uses "
                                         "d_k columns of the shared W^Q, W^K, W^V.",
                         7 * 3 * d * d: "each head does not get its own full (d_model, d_model) matrices: head i uses "
                                         "d_k columns of the shared W^Q, W^K, W^V."})


def merge_index_form(answer_merge_index: object) -> None:
    """Visible: the answer is a tuple of 4 ints."""
    read_ints(answer_merge_index, 4, what="answer_merge_index")
    form_passed("merge_index_form", "a tuple of 4 ints")


def merge_index_question(answer_merge_index: object) -> None:
    """Hidden: which entry of z (3, 8, 4, 2) lands at merge_heads(z)[0, 1, 5]."""
    got = read_ints(answer_merge_index, 4, what="answer_merge_index")
    z = torch.arange(3 * 8 * 4 * 2).reshape(3, 8, 4, 2)  # every number is its own flat index
    flat = int(ref.merge_heads(z)[0, 1, 5])
    want = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), z.shape))
    expect_answer(got, want, name="merge_index_question",
                  summary=f"z{list(want)}: feature 5 of token 1 is head 5 // 2 = 2, its number 5 % 2 = 1",
                  why=(f"merge_heads puts each token's heads side by side, head 0 first: token 1's 16 features are "
                       f"head 0's 2 numbers, then head 1's, … Feature 5 is head 5 // d_k = 2, number 5 % d_k = 1, and "
                       f"the token stays token 1: z[0, 2, 1, 1], the index {want}."),
                  wrong={(0, 1, 2, 1): "the axes of z are (B, h, T, d_k): the head comes before the token.",
                         (0, 5, 1, 0): "feature 5 is not head 5: each head holds d_k = 2 consecutive features, so "
                                       "feature 5 is head 5 // 2.",
                         (0, 2, 1, 0): "feature 4 is head 2's number 0; feature 5 is the next one, number 1."})


def largest_contribution_form(answer_largest_contribution: object) -> None:
    """Visible: the answer is one head index, 0 … 7."""
    read_head(answer_largest_contribution, 8, what="answer_largest_contribution")
    form_passed("largest_contribution_form", "one head index")


def largest_contribution_question(answer_largest_contribution: object) -> None:
    """Hidden: which head adds the longest vector to "bank"'s output, in the notebook's experiment."""
    from mhsa_ref import widgets, word2vec
    from mhsa_ref.split_heads import split_heads

    got = read_int(answer_largest_contribution, what="answer_largest_contribution")
    tokens = "we went to the bank to watch the herons".split()
    x = widgets.head_points(word2vec.pretrained(), tokens)  # (1, T, 16)
    w_q, w_k, w_v, w_o = widgets.head_weights(16, 8)
    q, k, v = (split_heads(x @ w, 8) for w in (w_q, w_k, w_v))
    z, _ = ref.scaled_dot_product_attention(q, k, v)  # (1, 8, T, 2)
    lengths = ref.head_contributions(z, w_o)[0, :, tokens.index("bank")].norm(dim=-1)  # (h,)
    want = int(lengths.argmax())
    expect_answer(got, want, name="largest_contribution_question",
                  summary=f"head {want}: it adds a vector {lengths[want]:.2f} long to \"bank\"'s output",
                  why=(f"the measured lengths of each head's contribution Z_i W^O_i to \"bank\": "
                       f"{', '.join(f'{v:.2f}' for v in lengths.tolist())}. The output is their sum, so the heads "
                       f"do not weigh the same in it: what W^O does is add h vectors of different sizes, each from its "
                       f"own plane. (Chapter 09 asks which heads a trained layer needs, by removing them.)"),
                  wrong={int(lengths.argmin()): "that head adds the shortest vector to \"bank\"; the question asks "
                                                "for the longest."})
