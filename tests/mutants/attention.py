"""Realistic wrong answers to exercise 04_attention, and a correct one to compare with.

Each mutant is registered with the words its failure message must contain: a check that fails
for the wrong reason, or with a message that does not name the mistake, fails the mutation test.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mutants import Mutant


# --- correct answers (not the reference: written independently, learner style) -------------------


def softmax(x, dim=-1):
    peak = x.amax(dim, keepdim=True)
    peak = torch.where(peak.isinf(), torch.zeros_like(peak), peak)
    e = (x - peak).exp()
    total = e.sum(dim, keepdim=True)
    return e / torch.where(total == 0, torch.ones_like(total), total)


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = softmax(scores, -1)
    return weights @ v, weights


# --- softmax mutants ------------------------------------------------------------------------------


def softmax_no_max_shift(x, dim=-1):
    e = x.exp()
    return e / e.sum(dim, keepdim=True)


def softmax_nan_when_all_masked(x, dim=-1):
    e = (x - x.amax(dim, keepdim=True)).exp()
    return e / e.sum(dim, keepdim=True)


def softmax_wrong_dim(x, dim=-1):
    return softmax(x, 0)


def softmax_ignores_dim(x, dim=-1):
    return softmax(x, -1)


def softmax_no_keepdim(x, dim=-1):
    e = (x - x.amax(dim, keepdim=True)).exp()
    return e / e.sum(dim)


def softmax_whole_tensor_sum(x, dim=-1):
    e = (x - x.max()).exp()
    return e / e.sum()


def softmax_torch_builtin(x, dim=-1):
    return torch.softmax(x, dim)


def softmax_via_getattr(x, dim=-1):
    return getattr(x, "soft" + "max")(dim)


def softmax_via_log_softmax(x, dim=-1):
    return F.log_softmax(x, dim).exp()


def softmax_delegates_to_reference(x, dim=-1):
    import mhsa_ref.attention as course

    return course.softmax(x, dim)


def softmax_cpu_constant(x, dim=-1):
    out = softmax(x, dim)
    return out * torch.ones(out.shape[-1])  # created on the CPU whatever x's device


def softmax_returns_float32(x, dim=-1):
    return softmax(x.float(), dim)


# --- scaled_dot_product_attention mutants -----------------------------------------------------------


def _attend(q, k, v, mask=None, *, scale=None, dim=-1, fill=float("-inf"), invert=False, after=False):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None and invert:
        mask = ~mask
    if mask is not None and not after:
        scores = scores.masked_fill(~mask, fill)
    weights = softmax(scores, dim)
    if mask is not None and after:
        weights = weights * mask
    return weights @ v, weights


def sdpa_scale_by_d_k(q, k, v, mask=None):
    return _attend(q, k, v, mask, scale=1 / q.shape[-1])


def sdpa_no_scale(q, k, v, mask=None):
    return _attend(q, k, v, mask, scale=1.0)


def sdpa_scale_by_d_v(q, k, v, mask=None):
    return _attend(q, k, v, mask, scale=1 / math.sqrt(v.shape[-1]))


def sdpa_softmax_over_queries(q, k, v, mask=None):
    return _attend(q, k, v, mask, dim=-2)


def sdpa_inverted_mask(q, k, v, mask=None):
    return _attend(q, k, v, mask, invert=True)


def sdpa_mask_fill_zero(q, k, v, mask=None):
    return _attend(q, k, v, mask, fill=0.0)


def sdpa_mask_after_softmax(q, k, v, mask=None):
    return _attend(q, k, v, mask, after=True)


def sdpa_fill_minus_1e9(q, k, v, mask=None):
    return _attend(q, k, v, mask, fill=-1e9)


def sdpa_nan_when_all_masked(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = softmax_nan_when_all_masked(scores)
    return weights @ v, weights


def sdpa_returns_swapped(q, k, v, mask=None):
    out, weights = _attend(q, k, v, mask)
    return weights, out


def sdpa_functional(q, k, v, mask=None):
    from torch.nn import functional as fn

    out = fn.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out, _attend(q, k, v, mask)[1]


def sdpa_multihead_module(q, k, v, mask=None):
    """nn.MultiheadAttention with identity projections and one head is exactly attention."""
    lead, (t, d_k), (s, d_v) = q.shape[:-2], q.shape[-2:], v.shape[-2:]
    if d_k != d_v:
        raise ValueError("this trick needs d_k == d_v")
    mha = nn.MultiheadAttention(d_k, 1, bias=False, batch_first=True, device=q.device, dtype=q.dtype)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.eye(d_k, dtype=q.dtype).repeat(3, 1))
        mha.out_proj.weight.copy_(torch.eye(d_k, dtype=q.dtype))
    flat = lambda x: x.reshape(-1, *x.shape[-2:])
    attn_mask = None if mask is None else flat(~mask.expand(*lead, t, s))
    out, weights = mha(flat(q), flat(k), flat(v), attn_mask=attn_mask)
    return out.reshape(*lead, t, d_v), weights.reshape(*lead, t, s)


def sdpa_delegates_to_reference(q, k, v, mask=None):
    from mhsa_ref import scaled_dot_product_attention as course

    return course(q, k, v, mask)


def sdpa_cpu_default_mask(q, k, v, mask=None):
    if mask is None:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool)  # on the CPU, always
    return _attend(q, k, v, mask)


MUTANTS = {
    "softmax_no_max_shift": Mutant("softmax", softmax_no_max_shift, "exp overflowed"),
    "softmax_nan_when_all_masked": Mutant("softmax", softmax_nan_when_all_masked, "entirely -inf gives NaN"),
    "softmax_wrong_dim": Mutant("softmax", softmax_wrong_dim, "you normalised along dim 0"),
    "softmax_ignores_dim": Mutant("softmax", softmax_ignores_dim, "ignores its `dim` argument"),
    "softmax_no_keepdim": Mutant("softmax", softmax_no_keepdim, "keepdim=True"),
    "softmax_whole_tensor_sum": Mutant("softmax", softmax_whole_tensor_sum, "sum of the whole tensor"),
    "softmax_torch_builtin": Mutant("softmax", softmax_torch_builtin, "torch's built-in softmax"),
    "softmax_via_getattr": Mutant("softmax", softmax_via_getattr, "torch's built-in softmax"),
    "softmax_via_log_softmax": Mutant("softmax", softmax_via_log_softmax, "built-in softmax"),
    "softmax_delegates_to_reference": Mutant("softmax", softmax_delegates_to_reference, "reference implementation"),
    "softmax_cpu_constant": Mutant("softmax", softmax_cpu_constant, "creates a tensor on a fixed device"),
    "softmax_returns_float32": Mutant("softmax", softmax_returns_float32, "Wrong dtype"),
    "sdpa_scale_by_d_k": Mutant("scaled_dot_product_attention", sdpa_scale_by_d_k, "divided by d_k"),
    "sdpa_no_scale": Mutant("scaled_dot_product_attention", sdpa_no_scale, "not scaled"),
    "sdpa_scale_by_d_v": Mutant("scaled_dot_product_attention", sdpa_scale_by_d_v, "1/√d_v"),
    "sdpa_softmax_over_queries": Mutant("scaled_dot_product_attention", sdpa_softmax_over_queries, "over the queries"),
    "sdpa_inverted_mask": Mutant("scaled_dot_product_attention", sdpa_inverted_mask, "mask is inverted"),
    "sdpa_mask_fill_zero": Mutant("scaled_dot_product_attention", sdpa_mask_fill_zero, "set to 0"),
    "sdpa_mask_after_softmax": Mutant("scaled_dot_product_attention", sdpa_mask_after_softmax, "after softmax"),
    "sdpa_fill_minus_1e9": Mutant("scaled_dot_product_attention", sdpa_fill_minus_1e9, "large finite number"),
    "sdpa_nan_when_all_masked": Mutant("scaled_dot_product_attention", sdpa_nan_when_all_masked, "keys are all masked gives NaN"),
    "sdpa_returns_swapped": Mutant("scaled_dot_product_attention", sdpa_returns_swapped, "returned (weights, out)"),
    "sdpa_functional": Mutant("scaled_dot_product_attention", sdpa_functional, "F.scaled_dot_product_attention"),
    "sdpa_multihead_module": Mutant("scaled_dot_product_attention", sdpa_multihead_module, "nn.MultiheadAttention"),
    "sdpa_delegates_to_reference": Mutant("scaled_dot_product_attention", sdpa_delegates_to_reference, "reference implementation"),
    "sdpa_cpu_default_mask": Mutant("scaled_dot_product_attention", sdpa_cpu_default_mask, "creates a tensor on a fixed device"),
}

ASSIGNMENT = "04_attention"
CORRECT = {"softmax": softmax, "scaled_dot_product_attention": scaled_dot_product_attention}
VISIBLE = ["softmax_torch_builtin", "softmax_wrong_dim", "sdpa_scale_by_d_k", "sdpa_inverted_mask", "sdpa_functional"]
ALTERNATIVES: dict = {}  # the correct answers above already differ from the reference


# --- attention_entropy: a correct answer and mutants ----------------------------------------------------------


def attention_entropy(weights):
    logs = torch.where(weights > 0, weights.log(), torch.zeros_like(weights))
    return -(weights * logs).sum(-1)


def entropy_nan_for_zero(weights):
    return -(weights * weights.log()).sum(-1)


def entropy_no_minus(weights):
    return torch.xlogy(weights, weights).sum(-1)


def entropy_in_bits(weights):
    return -(torch.xlogy(weights, weights) / math.log(2)).sum(-1)


def entropy_over_queries(weights):
    return -torch.xlogy(weights, weights).sum(-2)


def entropy_cpu_zeros(weights):
    logs = torch.where(weights > 0, weights.log(), torch.zeros(weights.shape))  # created on the CPU
    return -(weights * logs).sum(-1)


def entropy_with_clamp(weights):
    return -(weights * weights.clamp_min(1e-30).log()).sum(-1)


CORRECT.update({
    "attention_entropy": attention_entropy,
})
MUTANTS.update({
    "entropy_nan_for_zero": Mutant("attention_entropy", entropy_nan_for_zero, "0 · log 0"),
    "entropy_no_minus": Mutant("attention_entropy", entropy_no_minus, "minus sign is missing"),
    "entropy_in_bits": Mutant("attention_entropy", entropy_in_bits, "in bits"),
    "entropy_over_queries": Mutant("attention_entropy", entropy_over_queries, "over the queries"),
    "entropy_cpu_zeros": Mutant("attention_entropy", entropy_cpu_zeros, "device"),
})
ALTERNATIVES["attention_entropy"] = [entropy_with_clamp]
VISIBLE += ["entropy_nan_for_zero", "entropy_no_minus"]


# issue 27: questions that apply an idea to new sizes, and questions read from a measurement
CORRECT.update({
    "answer_score_scale": 16.0,
    "answer_masked_entropy": math.log(4),
    "answer_saturation": "a",
})
MUTANTS.update({
    "scale_sqrt_d_k": Mutant("answer_score_scale", 4, "assumes entries of variance 1"),
    "scale_variance": Mutant("answer_score_scale", 256, "256 is the variance"),
    "scale_as_text": Mutant("answer_score_scale", "sqrt(256)", "one number"),
    "masked_all_keys": Mutant("answer_masked_entropy", math.log(16), "the masked ones get exactly 0"),
    "masked_bits": Mutant("answer_masked_entropy", 2.0, "in bits"),
    "masked_as_text": Mutant("answer_masked_entropy", "log 4", "one number"),
    "saturation_uniform": Mutant("answer_saturation", "b", "sharper, not more uniform"),
    "saturation_same": Mutant("answer_saturation", "c", "differ a lot"),
    "saturation_as_word": Mutant("answer_saturation", "one-hot", "one letter"),
})
VISIBLE += ["scale_as_text", "masked_as_text", "saturation_as_word"]
