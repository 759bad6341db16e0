"""Realistic wrong answers to exercise 07_concat_and_output, and correct ones to compare with."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import mhsa_ref
from mutants import Mutant

# --- the notebook's given helpers, and correct answers (learner style, not the reference) -------------


def split_heads(x, num_heads):
    B, T, d_model = x.shape
    return x.view(B, T, num_heads, d_model // num_heads).transpose(1, 2)


def attend(q, k, v, mask=None, *, scale=None, dim=-1):
    scores = q @ k.transpose(-2, -1) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim).nan_to_num(0.0)
    return weights @ v, weights


def head_mask(mask):
    return mask.unsqueeze(1) if mask is not None and mask.dim() == 3 else mask


def merge_heads(x):
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).contiguous().view(B, T, h * d_k)


def multi_head_self_attention(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    q, k, v = split_heads(x @ w_q, num_heads), split_heads(x @ w_k, num_heads), split_heads(x @ w_v, num_heads)
    z, weights = attend(q, k, v, head_mask(mask))
    return merge_heads(z) @ w_o, weights


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.h = num_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d_model, d_model, bias=bias) for _ in range(4))

    def forward(self, x, mask=None):
        q, k, v = (split_heads(p(x), self.h) for p in (self.q_proj, self.k_proj, self.v_proj))
        z, weights = attend(q, k, v, head_mask(mask))
        return self.out_proj(merge_heads(z)), weights


# --- merge_heads ---------------------------------------------------------------------------------------


def merge_view_fail(x):
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).view(B, T, h * d_k)  # the lecture note's FAIL


def merge_no_transpose(x):
    B, h, T, d_k = x.shape
    return x.reshape(B, T, h * d_k)


def merge_interleaved(x):
    B, h, T, d_k = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, h * d_k)


def merge_cat_reversed(x):
    return torch.cat([x[:, i] for i in reversed(range(x.shape[1]))], dim=-1)


def merge_delegates(x):
    return mhsa_ref.merge_heads(x)


# --- multi_head_self_attention -------------------------------------------------------------------------


def _layer(x, w_q, w_k, w_v, w_o, num_heads, mask=None, *, scale=None, dim=-1, merge=merge_heads, out=None,
           mask_fn=head_mask):
    q, k, v = split_heads(x @ w_q, num_heads), split_heads(x @ w_k, num_heads), split_heads(x @ w_v, num_heads)
    z, weights = attend(q, k, v, mask_fn(mask), scale=scale, dim=dim)
    merged = merge(z)
    return (out(merged) if out else merged @ w_o), weights


def layer_no_w_o(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    return _layer(x, w_q, w_k, w_v, w_o, num_heads, mask, out=lambda m: m)


def layer_w_o_transposed(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    return _layer(x, w_q, w_k, w_v, w_o, num_heads, mask, out=lambda m: m @ w_o.T)


def layer_scale_d_model(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    return _layer(x, w_q, w_k, w_v, w_o, num_heads, mask, scale=1 / math.sqrt(x.shape[-1]))


def layer_merge_no_transpose(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    return _layer(x, w_q, w_k, w_v, w_o, num_heads, mask, merge=merge_no_transpose)


def layer_weights_averaged(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    out, weights = _layer(x, w_q, w_k, w_v, w_o, num_heads, mask)
    return out, weights.mean(1)


def layer_mask_not_unsqueezed(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    return _layer(x, w_q, w_k, w_v, w_o, num_heads, mask, mask_fn=lambda m: m)


def layer_torch_mask_convention(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    return _layer(x, w_q, w_k, w_v, w_o, num_heads, mask, mask_fn=lambda m: None if m is None else ~head_mask(m))


def layer_cpu_causal_default(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    if mask is None:
        mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool)  # "no mask" made on the CPU
    return _layer(x, w_q, w_k, w_v, w_o, num_heads, mask)


def layer_functional(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    q, k, v = split_heads(x @ w_q, num_heads), split_heads(x @ w_k, num_heads), split_heads(x @ w_v, num_heads)
    z = F.scaled_dot_product_attention(q, k, v, attn_mask=head_mask(mask))
    return merge_heads(z) @ w_o, attend(q, k, v, head_mask(mask))[1]


# --- MultiHeadSelfAttention ----------------------------------------------------------------------------


class ModuleNoOutProj(MultiHeadSelfAttention):
    def forward(self, x, mask=None):
        q, k, v = (split_heads(p(x), self.h) for p in (self.q_proj, self.k_proj, self.v_proj))
        z, weights = attend(q, k, v, head_mask(mask))
        return merge_heads(z), weights


class ModuleWeightsOnly(MultiHeadSelfAttention):
    def forward(self, x, mask=None):  # x @ weight.T: the biases are never added
        q, k, v = (split_heads(x @ p.weight.T, self.h) for p in (self.q_proj, self.k_proj, self.v_proj))
        z, weights = attend(q, k, v, head_mask(mask))
        return merge_heads(z) @ self.out_proj.weight.T, weights


class ModuleAveragedWeights(MultiHeadSelfAttention):
    def forward(self, x, mask=None):
        out, weights = super().forward(x, mask)
        return out, weights.mean(1)


class ModuleOneBigLinear(nn.Module):
    """nn.MultiheadAttention's own layout: one (3·d_model, d_model) in-projection."""

    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.h = num_heads
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, mask=None):
        q, k, v = (split_heads(t, self.h) for t in self.in_proj(x).chunk(3, dim=-1))
        z, weights = attend(q, k, v, head_mask(mask))
        return self.out_proj(merge_heads(z)), weights


class ModuleIgnoresBias(MultiHeadSelfAttention):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__(d_model, num_heads)  # bias always on


class ModuleCpuMask(MultiHeadSelfAttention):
    def forward(self, x, mask=None):
        if mask is not None:
            mask = mask.cpu()
        return super().forward(x, mask)


class ModuleWrapsTorch(MultiHeadSelfAttention):
    """Copies its weights into a fresh nn.MultiheadAttention on every call and lets it do the work."""

    def forward(self, x, mask=None):
        d = x.shape[-1]
        bias = self.q_proj.bias is not None
        mha = nn.MultiheadAttention(d, self.h, bias=bias, batch_first=True, device=x.device, dtype=x.dtype)
        with torch.no_grad():
            mha.in_proj_weight.copy_(torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight]))
            mha.out_proj.weight.copy_(self.out_proj.weight)
            if bias:
                mha.in_proj_bias.copy_(torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]))
                mha.out_proj.bias.copy_(self.out_proj.bias)
        attn_mask = None if mask is None else ~(mask if mask.dim() == 2 else mask.repeat_interleave(self.h, 0))
        return mha(x, x, x, attn_mask=attn_mask, average_attn_weights=False)


ASSIGNMENT = "07_concat_and_output"
CORRECT = {"merge_heads": merge_heads, "multi_head_self_attention": multi_head_self_attention,
           "MultiHeadSelfAttention": MultiHeadSelfAttention}
MUTANTS = {
    "merge_view_fail": Mutant("merge_heads", merge_view_fail, "not contiguous"),
    "merge_no_transpose": Mutant("merge_heads", merge_no_transpose, "not brought back next to their token"),
    "merge_interleaved": Mutant("merge_heads", merge_interleaved, "interleaved"),
    "merge_cat_reversed": Mutant("merge_heads", merge_cat_reversed, "reverse order"),
    "merge_delegates": Mutant("merge_heads", merge_delegates, "reference implementation"),
    "layer_no_w_o": Mutant("multi_head_self_attention", layer_no_w_o, "W^O was not applied"),
    "layer_w_o_transposed": Mutant("multi_head_self_attention", layer_w_o_transposed, "W^O was transposed"),
    "layer_scale_d_model": Mutant("multi_head_self_attention", layer_scale_d_model, "1/√d_model"),
    "layer_merge_no_transpose": Mutant("multi_head_self_attention", layer_merge_no_transpose, "mixes tokens"),
    "layer_weights_averaged": Mutant("multi_head_self_attention", layer_weights_averaged, "not their average"),
    "layer_mask_not_unsqueezed": Mutant("multi_head_self_attention", layer_mask_not_unsqueezed, "not given a head axis"),
    "layer_torch_mask_convention": Mutant("multi_head_self_attention", layer_torch_mask_convention, "mask is inverted"),
    "layer_cpu_causal_default": Mutant("multi_head_self_attention", layer_cpu_causal_default, "fixed device"),
    "layer_functional": Mutant("multi_head_self_attention", layer_functional, "F.scaled_dot_product_attention"),
    "module_no_out_proj": Mutant("MultiHeadSelfAttention", ModuleNoOutProj, "out_proj was not applied"),
    "module_weights_only": Mutant("MultiHeadSelfAttention", ModuleWeightsOnly, "biases were dropped"),
    "module_averaged_weights": Mutant("MultiHeadSelfAttention", ModuleAveragedWeights, "not their average"),
    "module_one_big_linear": Mutant("MultiHeadSelfAttention", ModuleOneBigLinear, "no nn.Linear attribute `q_proj`"),
    "module_ignores_bias": Mutant("MultiHeadSelfAttention", ModuleIgnoresBias, "pass bias=bias"),
    "module_cpu_mask": Mutant("MultiHeadSelfAttention", ModuleCpuMask, ".cpu()"),
    "module_wraps_torch": Mutant("MultiHeadSelfAttention", ModuleWrapsTorch, "nn.MultiheadAttention"),
}
VISIBLE = ["merge_view_fail", "merge_no_transpose", "merge_interleaved", "layer_no_w_o", "layer_w_o_transposed",
           "layer_scale_d_model", "layer_weights_averaged", "module_no_out_proj", "module_weights_only",
           "module_one_big_linear", "module_ignores_bias", "module_wraps_torch"]


# --- other correct answers: they must keep full marks too ------------------------------------------------


def merge_heads_cat(x):
    return torch.cat(x.unbind(dim=1), dim=-1)  # (B, T, d_k) per head, side by side


def layer_loop_over_heads(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    d_k = x.shape[-1] // num_heads
    outs, weights = [], []
    mask = head_mask(mask)
    for i in range(num_heads):
        cols = slice(i * d_k, (i + 1) * d_k)
        m = None if mask is None else (mask if mask.dim() == 2 else mask[:, i if mask.shape[1] > 1 else 0])
        z, w = attend(x @ w_q[:, cols], x @ w_k[:, cols], x @ w_v[:, cols], m)
        outs.append(z)
        weights.append(w)
    return torch.cat(outs, dim=-1) @ w_o, torch.stack(weights, dim=1)


ALTERNATIVES = {"merge_heads": [merge_heads_cat], "multi_head_self_attention": [layer_loop_over_heads]}


# --- head_contributions: a correct answer and mutants ------------------------------------------------------


def head_contributions(z, w_o):
    h, d_k = z.shape[1], z.shape[-1]
    return torch.stack([z[:, i] @ w_o[i * d_k:(i + 1) * d_k] for i in range(h)], dim=1)


def contributions_columns(z, w_o):
    h, d_k = z.shape[1], z.shape[-1]
    return torch.stack([z[:, i] @ w_o[:, i * d_k:(i + 1) * d_k].T for i in range(h)], dim=1)


def contributions_round_robin(z, w_o):
    h, d_k = z.shape[1], z.shape[-1]
    return z @ w_o.reshape(d_k, h, w_o.shape[-1]).transpose(0, 1)


def contributions_averaged(z, w_o):
    return head_contributions(z, w_o) / z.shape[1]


def contributions_summed(z, w_o):
    B, h, T, d_k = z.shape
    return z.transpose(1, 2).reshape(B, T, h * d_k) @ w_o


def contributions_einsum(z, w_o):
    B, h, T, d_k = z.shape
    return torch.einsum("bhtk,hkd->bhtd", z, w_o.view(h, d_k, -1))


CORRECT.update({
    "head_contributions": head_contributions,
    "answer_merge_index": (0, 2, 1, 1),
    "answer_params_vs_heads": 0,
})
MUTANTS.update({
    "contributions_columns": Mutant("head_contributions", contributions_columns, "columns of w_o"),
    "contributions_round_robin": Mutant("head_contributions", contributions_round_robin, "round-robin"),
    "contributions_averaged": Mutant("head_contributions", contributions_averaged, "averaged over the heads"),
    "contributions_summed": Mutant("head_contributions", contributions_summed, "the sum over the heads"),
    "merge_index_head_first": Mutant("answer_merge_index", (0, 1, 2, 1), "the head comes before the token"),
    "merge_index_feature_is_head": Mutant("answer_merge_index", (0, 5, 1, 0), "feature 5 is not head 5"),
    "merge_index_three": Mutant("answer_merge_index", (2, 1, 1), "a tuple of 4 ints"),
    "params_per_head": Mutant("answer_params_vs_heads", 7 * 4 * 512 * 512, "own full (d_model, d_model)"),
    "params_as_text": Mutant("answer_params_vs_heads", "none", "one int"),
})
ALTERNATIVES.setdefault("head_contributions", []).append(contributions_einsum)
VISIBLE += ["contributions_columns", "contributions_summed", "merge_index_three"]


# issue 27: questions that apply an idea to new sizes, and questions read from a measurement
CORRECT.update({
    "answer_largest_contribution": 5,
})
MUTANTS.update({
    "contribution_smallest": Mutant("answer_largest_contribution", 3, "the shortest vector"),
    "contribution_as_text": Mutant("answer_largest_contribution", "five", "one int"),
})
VISIBLE += ["contribution_as_text"]
