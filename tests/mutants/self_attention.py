"""Realistic wrong answers to exercise 05_self_attention, and correct ones to compare with."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import mhsa_ref
from mutants import Mutant

# --- correct answers (learner style, not the reference) ----------------------------------------------


def project_qkv(x, w_q, w_k, w_v):
    return torch.matmul(x, w_q), torch.matmul(x, w_k), torch.matmul(x, w_v)


def causal_mask(T, device=None):
    rows = torch.arange(T, device=device)
    return rows.unsqueeze(1) >= rows.unsqueeze(0)


def self_attention(x, w_q, w_k, w_v, mask=None):
    q, k, v = project_qkv(x, w_q, w_k, w_v)
    scores = torch.einsum("btd,bsd->bts", q, k) / math.sqrt(k.shape[-1])
    if mask is not None:
        scores = torch.where(mask, scores, torch.full_like(scores, float("-inf")))
    weights = torch.softmax(scores, dim=-1)
    weights = torch.where(torch.isnan(weights), torch.zeros_like(weights), weights)
    return weights @ v, weights


# --- project_qkv ---------------------------------------------------------------------------------------


def qkv_transposed(x, w_q, w_k, w_v):
    return x @ w_q.T, x @ w_k.T, x @ w_v.T


def qkv_k_v_swapped(x, w_q, w_k, w_v):
    return x @ w_q, x @ w_v, x @ w_k


def qkv_one_weight(x, w_q, w_k, w_v):
    return x @ w_q, x @ w_q, x @ w_v


def qkv_linear_layers(x, w_q, w_k, w_v):
    return F.linear(x, w_q), F.linear(x, w_k), F.linear(x, w_v)  # nn.Linear's (d_out, d_in) convention


# --- causal_mask ---------------------------------------------------------------------------------------


def causal_upper(T, device=None):
    return torch.ones(T, T, dtype=torch.bool, device=device).triu()


def causal_strict(T, device=None):
    return torch.ones(T, T, dtype=torch.bool, device=device).tril(-1)


def causal_float(T, device=None):
    return torch.ones(T, T, device=device).tril()


def causal_ignores_device(T, device=None):
    return torch.ones(T, T, dtype=torch.bool).tril()


def causal_blocked_convention(T, device=None):
    return torch.ones(T, T, dtype=torch.bool, device=device).triu(1)  # nn.MultiheadAttention's True = blocked


# --- self_attention ------------------------------------------------------------------------------------


def _attend(x, w_q, w_k, w_v, mask=None, scale=None, fill=float("-inf"), dim=-1, fix_nan=True):
    q, k, v = project_qkv(x, w_q, w_k, w_v)
    scores = q @ k.transpose(-2, -1) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if mask is not None:
        scores = scores.masked_fill(~mask, fill)
    weights = torch.softmax(scores, dim=dim)
    if fix_nan:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


def sa_scale_by_d_model(x, w_q, w_k, w_v, mask=None):
    return _attend(x, w_q, w_k, w_v, mask, scale=1 / math.sqrt(x.shape[-1]))


def sa_no_scale(x, w_q, w_k, w_v, mask=None):
    return _attend(x, w_q, w_k, w_v, mask, scale=1.0)


def sa_softmax_over_queries(x, w_q, w_k, w_v, mask=None):
    return _attend(x, w_q, w_k, w_v, mask, dim=-2)


def sa_inverted_mask(x, w_q, w_k, w_v, mask=None):
    return _attend(x, w_q, w_k, w_v, None if mask is None else ~mask)


def sa_nan_row(x, w_q, w_k, w_v, mask=None):
    return _attend(x, w_q, w_k, w_v, mask, fix_nan=False)


def sa_fill_minus_1e9(x, w_q, w_k, w_v, mask=None):
    return _attend(x, w_q, w_k, w_v, mask, fill=-1e9)


def sa_functional(x, w_q, w_k, w_v, mask=None):
    q, k, v = project_qkv(x, w_q, w_k, w_v)
    z = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return z, torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1)


def sa_cpu_mask(x, w_q, w_k, w_v, mask=None):
    if mask is None:
        mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool)  # on the CPU whatever x is on
    return _attend(x, w_q, w_k, w_v, mask)


def sa_returns_z_only(x, w_q, w_k, w_v, mask=None):
    return _attend(x, w_q, w_k, w_v, mask)[0]


def sa_delegates(x, w_q, w_k, w_v, mask=None):
    return mhsa_ref.self_attention(x, w_q, w_k, w_v, mask)


ASSIGNMENT = "05_self_attention"
CORRECT = {"project_qkv": project_qkv, "causal_mask": causal_mask, "self_attention": self_attention}
MUTANTS = {
    "qkv_transposed": Mutant("project_qkv", qkv_transposed, "transposed"),
    "qkv_k_v_swapped": Mutant("project_qkv", qkv_k_v_swapped, "k was computed with w_v"),
    "qkv_one_weight": Mutant("project_qkv", qkv_one_weight, "k was computed with w_q"),
    "qkv_linear_layers": Mutant("project_qkv", qkv_linear_layers, "transposed"),
    "causal_upper": Mutant("causal_mask", causal_upper, "upper-triangular"),
    "causal_strict": Mutant("causal_mask", causal_strict, "diagonal is False"),
    "causal_float": Mutant("causal_mask", causal_float, "a mask is a bool tensor"),
    "causal_ignores_device": Mutant("causal_mask", causal_ignores_device, "Wrong device"),
    "causal_blocked_convention": Mutant("causal_mask", causal_blocked_convention, "inverted"),
    "sa_scale_by_d_model": Mutant("self_attention", sa_scale_by_d_model, "1/√d_model"),
    "sa_no_scale": Mutant("self_attention", sa_no_scale, "not scaled"),
    "sa_softmax_over_queries": Mutant("self_attention", sa_softmax_over_queries, "over the queries"),
    "sa_inverted_mask": Mutant("self_attention", sa_inverted_mask, "mask is inverted"),
    "sa_nan_row": Mutant("self_attention", sa_nan_row, "gives NaN"),
    "sa_fill_minus_1e9": Mutant("self_attention", sa_fill_minus_1e9, "large finite number"),
    "sa_functional": Mutant("self_attention", sa_functional, "F.scaled_dot_product_attention"),
    "sa_cpu_mask": Mutant("self_attention", sa_cpu_mask, "fixed device"),
    "sa_delegates": Mutant("self_attention", sa_delegates, "reference implementation"),
    "sa_returns_z_only": Mutant("self_attention", sa_returns_z_only, "should return 2 results (z, weights)"),
}
VISIBLE = ["qkv_transposed", "qkv_k_v_swapped", "causal_upper", "causal_strict", "sa_scale_by_d_model", "sa_no_scale",
           "sa_functional"]


# --- other correct answers: they must keep full marks too ------------------------------------------------


def causal_from_triu(T, device=None):
    return ~torch.ones(T, T, dtype=torch.bool, device=device).triu(1)


def self_attention_masked_weights(x, w_q, w_k, w_v, mask=None):
    q, k, v = project_qkv(x, w_q, w_k, w_v)
    scores = q @ k.transpose(1, 2) / q.shape[-1] ** 0.5
    if mask is None:
        weights = scores.softmax(-1)
    else:  # softmax of the allowed scores only, zeros elsewhere, no NaN to repair
        scores = scores.masked_fill(~mask, float("-inf"))
        peak = scores.amax(-1, keepdim=True).nan_to_num(0.0, neginf=0.0)
        e = (scores - peak).exp()
        weights = e / e.sum(-1, keepdim=True).clamp_min(1e-30)
    return weights @ v, weights


ALTERNATIVES = {"causal_mask": [causal_from_triu], "self_attention": [self_attention_masked_weights]}


# --- causal_padding_mask: a correct answer and mutants ----------------------------------------------------------


def causal_padding_mask(lengths, T):
    t = torch.arange(T, device=lengths.device)
    causal = t.view(T, 1) >= t.view(1, T)  # (T, T): key s <= query t
    is_word = t.view(1, 1, T) < lengths.view(-1, 1, 1)  # (B, 1, T)
    return causal & is_word


def padding_on_queries(lengths, T):
    t = torch.arange(T, device=lengths.device)
    return (t.view(T, 1) >= t.view(1, T)) & (t.view(1, T, 1) < lengths.view(-1, 1, 1))


def padding_or(lengths, T):
    t = torch.arange(T, device=lengths.device)
    return (t.view(T, 1) >= t.view(1, T)) | (t.view(1, 1, T) < lengths.view(-1, 1, 1))


def padding_one_too_many(lengths, T):
    t = torch.arange(T, device=lengths.device)
    return (t.view(T, 1) >= t.view(1, T)) & (t.view(1, 1, T) <= lengths.view(-1, 1, 1))


def padding_ignored(lengths, T):
    return causal_mask(T, device=lengths.device).expand(lengths.shape[0], T, T)


def padding_on_cpu(lengths, T):
    t = torch.arange(T)  # always on the CPU
    return (t.view(T, 1) >= t.view(1, T)) & (t.view(1, 1, T) < lengths.view(-1, 1, 1).cpu())


CORRECT.update({
    "causal_padding_mask": causal_padding_mask,
    "answer_reversed_words": "b",
})
MUTANTS.update({
    "padding_on_queries": Mutant("causal_padding_mask", padding_on_queries, "instead of the keys"),
    "padding_or": Mutant("causal_padding_mask", padding_or, "combined with |"),
    "padding_one_too_many": Mutant("causal_padding_mask", padding_one_too_many, "s <= length"),
    "padding_ignored": Mutant("causal_padding_mask", padding_ignored, "padding mask is missing"),
    "padding_on_cpu": Mutant("causal_padding_mask", padding_on_cpu, "device"),
    "reversed_words_unchanged": Mutant("answer_reversed_words", "a", "not in the same order"),
    "reversed_words_all_change": Mutant("answer_reversed_words", "C", "only the rows move"),
    "reversed_words_two": Mutant("answer_reversed_words", "b, c", "one letter"),
})
VISIBLE += ["padding_on_queries", "padding_ignored"]


# issue 27: questions that apply an idea to new sizes, and questions read from a measurement
CORRECT.update({
    "answer_fourth_weight": 0.25,
    "answer_bank_attends": "b",
})
MUTANTS.update({
    "fourth_itself": Mutant("answer_fourth_weight", 1, "the first word's weight on itself"),
    "fourth_not_itself": Mutant("answer_fourth_weight", 1 / 3, "may attend to itself too"),
    "fourth_as_text": Mutant("answer_fourth_weight", "1/4", "one number"),
    "bank_herons": Mutant("answer_bank_attends", "d", "decides the sense"),
    "bank_itself": Mutant("answer_bank_attends", "e", "its own score"),
    "bank_as_word": Mutant("answer_bank_attends", "to", "one letter"),
})
VISIBLE += ["fourth_as_text", "bank_as_word"]
