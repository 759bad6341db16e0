"""Realistic wrong answers to exercise 06_split_heads, and correct ones to compare with."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import mhsa_ref
from mutants import Mutant

# --- correct answers (learner style, not the reference) ----------------------------------------------


def split_heads(x, num_heads):
    B, T, d_model = x.shape
    if d_model % num_heads != 0:
        raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
    return x.view(B, T, num_heads, d_model // num_heads).transpose(1, 2)


def multi_head_attention_weights(q, k, num_heads, mask=None):
    qh, kh = split_heads(q, num_heads), split_heads(k, num_heads)
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(qh.shape[-1])
    if mask is not None:
        if mask.dim() == 3:
            mask = mask.unsqueeze(1)
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1).nan_to_num(0.0)


# --- split_heads ---------------------------------------------------------------------------------------


def split_no_transpose(x, num_heads):
    B, T, d_model = x.shape
    return x.view(B, num_heads, T, d_model // num_heads)  # cuts across tokens


def split_round_robin(x, num_heads):
    B, T, d_model = x.shape
    return x.view(B, T, d_model // num_heads, num_heads).permute(0, 3, 1, 2)


def split_forgets_transpose(x, num_heads):
    B, T, d_model = x.shape
    return x.view(B, T, num_heads, d_model // num_heads)


def split_transpose_1_3(x, num_heads):
    B, T, d_model = x.shape
    return x.view(B, T, num_heads, d_model // num_heads).transpose(1, 3)


def split_no_check(x, num_heads):
    B, T, d_model = x.shape
    return x.view(B, T, num_heads, d_model // num_heads).transpose(1, 2)  # view raises RuntimeError


def split_vague_error(x, num_heads):
    B, T, d_model = x.shape
    assert d_model % num_heads == 0, "bad heads"
    return x.view(B, T, num_heads, d_model // num_heads).transpose(1, 2)


def split_delegates(x, num_heads):
    return mhsa_ref.split_heads(x, num_heads)


# --- multi_head_attention_weights ----------------------------------------------------------------------


def _weights(q, k, num_heads, mask=None, *, scale=None, dim=-1, unsqueeze=True, split=split_heads, invert=False):
    qh, kh = split(q, num_heads), split(k, num_heads)
    scores = qh @ kh.transpose(-2, -1) * (scale if scale is not None else 1 / math.sqrt(qh.shape[-1]))
    if mask is not None:
        if invert:
            mask = ~mask
        if unsqueeze and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=dim).nan_to_num(0.0)


def weights_scale_d_model(q, k, num_heads, mask=None):
    return _weights(q, k, num_heads, mask, scale=1 / math.sqrt(q.shape[-1]))


def weights_no_scale(q, k, num_heads, mask=None):
    return _weights(q, k, num_heads, mask, scale=1.0)


def weights_softmax_over_queries(q, k, num_heads, mask=None):
    return _weights(q, k, num_heads, mask, dim=-2)


def weights_mask_not_unsqueezed(q, k, num_heads, mask=None):
    return _weights(q, k, num_heads, mask, unsqueeze=False)


def weights_inverted_mask(q, k, num_heads, mask=None):
    return _weights(q, k, num_heads, mask, invert=True)


def weights_split_without_transpose(q, k, num_heads, mask=None):
    return _weights(q, k, num_heads, mask, split=split_no_transpose)


def weights_one_head_copied(q, k, num_heads, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1] // num_heads)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return w.unsqueeze(1).expand(-1, num_heads, -1, -1)


def weights_nan_row(q, k, num_heads, mask=None):
    qh, kh = split_heads(q, num_heads), split_heads(k, num_heads)
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(qh.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~(mask.unsqueeze(1) if mask.dim() == 3 else mask), float("-inf"))
    return torch.softmax(scores, dim=-1)


def weights_cpu_mask(q, k, num_heads, mask=None):
    if mask is None:
        mask = torch.ones(q.shape[1], k.shape[1], dtype=torch.bool)
    return _weights(q, k, num_heads, mask.to(q.device) if q.device.type != "meta" else mask)


def weights_functional(q, k, num_heads, mask=None):
    qh, kh = split_heads(q, num_heads), split_heads(k, num_heads)
    eye = torch.eye(k.shape[1], dtype=q.dtype, device=q.device).expand(*kh.shape[:2], -1, -1)
    m = None if mask is None else (mask.unsqueeze(1) if mask.dim() == 3 else mask)
    return F.scaled_dot_product_attention(qh, kh, eye, attn_mask=m)  # the weights are attention to the identity


ASSIGNMENT = "06_split_heads"
CORRECT = {"split_heads": split_heads, "multi_head_attention_weights": multi_head_attention_weights}
MUTANTS = {
    "split_no_transpose": Mutant("split_heads", split_no_transpose, "viewed as (B, h, T, d_k) directly"),
    "split_round_robin": Mutant("split_heads", split_round_robin, "round-robin"),
    "split_forgets_transpose": Mutant("split_heads", split_forgets_transpose, "axes are (B, T, h, d_k)"),
    "split_transpose_1_3": Mutant("split_heads", split_transpose_1_3, "Wrong shape"),
    "split_no_check": Mutant("split_heads", split_no_check, "Expected a ValueError"),
    "split_vague_error": Mutant("split_heads", split_vague_error, "Expected a ValueError"),
    "split_delegates": Mutant("split_heads", split_delegates, "reference implementation"),
    "weights_scale_d_model": Mutant("multi_head_attention_weights", weights_scale_d_model, "1/√d_model"),
    "weights_no_scale": Mutant("multi_head_attention_weights", weights_no_scale, "not scaled"),
    "weights_softmax_over_queries": Mutant("multi_head_attention_weights", weights_softmax_over_queries, "over the queries"),
    "weights_mask_not_unsqueezed": Mutant("multi_head_attention_weights", weights_mask_not_unsqueezed, "not given a head axis"),
    "weights_inverted_mask": Mutant("multi_head_attention_weights", weights_inverted_mask, "mask is inverted"),
    "weights_split_without_transpose": Mutant("multi_head_attention_weights", weights_split_without_transpose,
                                              "view(B, h, T, d_k) and no transpose"),
    "weights_one_head_copied": Mutant("multi_head_attention_weights", weights_one_head_copied, "copied to every head"),
    "weights_nan_row": Mutant("multi_head_attention_weights", weights_nan_row, "NaN"),
    "weights_cpu_mask": Mutant("multi_head_attention_weights", weights_cpu_mask, "fixed device"),
    "weights_functional": Mutant("multi_head_attention_weights", weights_functional, "F.scaled_dot_product_attention"),
}
VISIBLE = ["split_no_transpose", "split_round_robin", "split_forgets_transpose", "split_no_check",
           "weights_scale_d_model", "weights_no_scale", "weights_one_head_copied", "weights_functional"]


# --- other correct answers: they must keep full marks too ------------------------------------------------


def split_heads_reshape_permute(x, num_heads):
    B, T, d_model = x.shape
    if d_model % num_heads:
        raise ValueError(f"d_model {d_model} must be a multiple of num_heads {num_heads}")
    return x.reshape(B, T, num_heads, -1).permute(0, 2, 1, 3)


def weights_einsum(q, k, num_heads, mask=None):
    qh, kh = split_heads(q, num_heads), split_heads(k, num_heads)
    scores = torch.einsum("bhtd,bhsd->bhts", qh, kh) * qh.shape[-1] ** -0.5
    if mask is not None:
        while mask.dim() < 4:
            mask = mask.unsqueeze(-3)
        scores = torch.where(mask, scores, float("-inf"))
    return torch.softmax(scores, dim=-1).nan_to_num(0.0)


ALTERNATIVES = {"split_heads": [split_heads_reshape_permute], "multi_head_attention_weights": [weights_einsum]}


# --- head_norms: a correct answer and mutants ----------------------------------------------------------------


def head_norms(x, num_heads):
    return split_heads(x, num_heads).pow(2).sum(-1).sqrt()


def norms_view_without_transpose(x, num_heads):
    B, T, d_model = x.shape
    return x.reshape(B, num_heads, T, d_model // num_heads).norm(dim=-1)


def norms_squared(x, num_heads):
    return split_heads(x, num_heads).pow(2).sum(-1)


def norms_over_tokens(x, num_heads):
    return split_heads(x, num_heads).norm(dim=-2)


def norms_no_transpose(x, num_heads):
    B, T, d_model = x.shape
    return x.view(B, T, num_heads, d_model // num_heads).norm(dim=-1)


def norms_whole_vector(x, num_heads):
    return x.norm(dim=-1).unsqueeze(1).expand(x.shape[0], num_heads, x.shape[1])


def norms_with_linalg(x, num_heads):
    return torch.linalg.vector_norm(split_heads(x, num_heads), dim=-1)


CORRECT.update({
    "head_norms": head_norms,
    "answer_view_without_transpose": "b",
})
MUTANTS.update({
    "norms_view_without_transpose": Mutant("head_norms", norms_view_without_transpose, "viewed as (B, h, T, d_k) directly"),
    "norms_squared": Mutant("head_norms", norms_squared, "squared lengths"),
    "norms_over_tokens": Mutant("head_norms", norms_over_tokens, "ran over the tokens"),
    "norms_no_transpose": Mutant("head_norms", norms_no_transpose, "(B, T, h)"),
    "norms_whole_vector": Mutant("head_norms", norms_whole_vector, "whole token vector"),
    "view_like_split_heads": Mutant("answer_view_without_transpose", "a", "cuts the memory in order"),
    "view_one_feature": Mutant("answer_view_without_transpose", "c", "never picks one feature"),
    "view_as_shape": Mutant("answer_view_without_transpose", (3, 8, 4, 2), "one letter"),
})
ALTERNATIVES.setdefault("head_norms", []).append(norms_with_linalg)
VISIBLE += ["norms_view_without_transpose", "norms_squared"]


# issue 27: questions that apply an idea to new sizes, and questions read from a measurement
CORRECT.update({
    "answer_strides": (120, 6, 24, 1),
    "answer_longest_head": 7,
})
MUTANTS.update({
    "strides_contiguous": Mutant("answer_strides", (120, 30, 6, 1), "contiguous (2, 4, 5, 6)"),
    "strides_before_transpose": Mutant("answer_strides", (120, 24, 6, 1), "before the transpose"),
    "strides_three": Mutant("answer_strides", (120, 6, 24), "a tuple of 4 ints"),
    "longest_shortest": Mutant("answer_longest_head", 0, "shortest"),
    "longest_out_of_range": Mutant("answer_longest_head", 8, "a head index"),
    "longest_as_text": Mutant("answer_longest_head", "7", "one int"),
})
VISIBLE += ["strides_three", "longest_out_of_range", "longest_as_text"]
