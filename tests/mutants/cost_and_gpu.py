"""Realistic wrong answers to exercise 08_cost_and_gpu, and correct ones to compare with."""

from __future__ import annotations

import math

import torch

import mhsa_ref
from mutants import Mutant
from mutants.concat_and_output import attend, head_mask, merge_heads, multi_head_self_attention, split_heads

# --- correct answers (learner style, not the reference) ----------------------------------------------


def attention_flops(batch, seq_len, d_model, num_heads):
    projections = 4 * 2 * batch * seq_len * d_model * d_model  # Q, K, V and W^O
    scores_and_sum = 2 * 2 * batch * seq_len * seq_len * d_model  # Q Kᵀ and weights @ V, all heads together
    return projections + scores_and_sum


def attention_score_bytes(batch, seq_len, num_heads, dtype):
    return batch * num_heads * seq_len * seq_len * torch.empty((), dtype=dtype).element_size()


# --- attention_flops -----------------------------------------------------------------------------------


def flops_no_w_o(batch, seq_len, d_model, num_heads):
    return 6 * batch * seq_len * d_model**2 + 4 * batch * seq_len**2 * d_model


def flops_macs(batch, seq_len, d_model, num_heads):
    return 4 * batch * seq_len * d_model**2 + 2 * batch * seq_len**2 * d_model


def flops_times_heads(batch, seq_len, d_model, num_heads):
    return 8 * batch * seq_len * d_model**2 + 4 * batch * seq_len**2 * d_model * num_heads


def flops_one_head(batch, seq_len, d_model, num_heads):
    return 8 * batch * seq_len * d_model**2 + 4 * batch * seq_len**2 * (d_model // num_heads)


def flops_float(batch, seq_len, d_model, num_heads):
    return 8.0 * batch * seq_len * d_model**2 + 4.0 * batch * seq_len**2 * d_model


def flops_projections_only(batch, seq_len, d_model, num_heads):
    return 8 * batch * seq_len * d_model**2


# --- attention_score_bytes -----------------------------------------------------------------------------


def bytes_elements(batch, seq_len, num_heads, dtype):
    return batch * num_heads * seq_len * seq_len


def bytes_always_4(batch, seq_len, num_heads, dtype):
    return batch * num_heads * seq_len * seq_len * 4


def bytes_bits(batch, seq_len, num_heads, dtype):
    return batch * num_heads * seq_len * seq_len * torch.finfo(dtype).bits


def bytes_no_heads(batch, seq_len, num_heads, dtype):
    return batch * seq_len * seq_len * dtype.itemsize


def bytes_tensor(batch, seq_len, num_heads, dtype):
    return torch.tensor(batch * num_heads * seq_len * seq_len * dtype.itemsize)


# --- the layer on the GPU path -------------------------------------------------------------------------


def layer_float32_additive_mask(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    q, k, v = (split_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:  # an additive mask made in the default dtype, float32: bfloat16 scores become float32
        bias = torch.zeros(head_mask(mask).shape, device=x.device).masked_fill(~head_mask(mask), float("-inf"))
        scores = scores + bias
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return merge_heads(weights @ v.to(weights.dtype)) @ w_o.to(weights.dtype), weights


def layer_softmax_in_float32(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    q, k, v = (split_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~head_mask(mask), float("-inf"))
    weights = torch.softmax(scores.float(), dim=-1).nan_to_num(0.0)  # "for stability", never cast back
    return merge_heads(weights @ v.float()) @ w_o.float(), weights


def layer_cpu_mask(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    if mask is None:
        mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool)
    return multi_head_self_attention(x, w_q, w_k, w_v, w_o, num_heads, mask)


def layer_delegates(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    return mhsa_ref.multi_head_self_attention(x, w_q, w_k, w_v, w_o, num_heads, mask)


def layer_no_w_o(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    q, k, v = (split_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))
    z, weights = attend(q, k, v, head_mask(mask))
    return merge_heads(z), weights


ASSIGNMENT = "08_cost_and_gpu"
CORRECT = {"attention_flops": attention_flops, "attention_score_bytes": attention_score_bytes,
           "multi_head_self_attention": multi_head_self_attention}
MUTANTS = {
    "flops_no_w_o": Mutant("attention_flops", flops_no_w_o, "W^O was left out"),
    "flops_macs": Mutant("attention_flops", flops_macs, "multiply-add was counted as 1"),
    "flops_times_heads": Mutant("attention_flops", flops_times_heads, "multiplied by the number of heads"),
    "flops_one_head": Mutant("attention_flops", flops_one_head, "one head's work"),
    "flops_float": Mutant("attention_flops", flops_float, "return an int"),
    "flops_projections_only": Mutant("attention_flops", flops_projections_only, "only the projections"),
    "bytes_elements": Mutant("attention_score_bytes", bytes_elements, "number of elements"),
    "bytes_always_4": Mutant("attention_score_bytes", bytes_always_4, "4 bytes per element"),
    "bytes_bits": Mutant("attention_score_bytes", bytes_bits, "bits were counted"),
    "bytes_no_heads": Mutant("attention_score_bytes", bytes_no_heads, "heads were left out"),
    "bytes_tensor": Mutant("attention_score_bytes", bytes_tensor, "returned a tensor"),
    "layer_float32_additive_mask": Mutant("multi_head_self_attention", layer_float32_additive_mask, "Wrong dtype"),
    "layer_softmax_in_float32": Mutant("multi_head_self_attention", layer_softmax_in_float32, "Wrong dtype"),
    "layer_cpu_mask": Mutant("multi_head_self_attention", layer_cpu_mask, "fixed device"),
    "layer_delegates": Mutant("multi_head_self_attention", layer_delegates, "reference implementation"),
    "layer_no_w_o": Mutant("multi_head_self_attention", layer_no_w_o, "W^O was not applied"),
}
VISIBLE = ["flops_no_w_o", "flops_macs", "flops_times_heads", "flops_float", "flops_projections_only",
           "bytes_elements", "bytes_bits", "bytes_no_heads", "layer_no_w_o"]


# --- other correct answers: they must keep full marks too ------------------------------------------------


def attention_flops_factored(batch, seq_len, d_model, num_heads):
    return 4 * batch * seq_len * d_model * (2 * d_model + seq_len)


def attention_score_bytes_itemsize(batch, seq_len, num_heads, dtype):
    return dtype.itemsize * batch * num_heads * seq_len**2


def layer_softmax_float32_cast_back(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    q, k, v = (split_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~head_mask(mask), float("-inf"))
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).nan_to_num(0.0).to(x.dtype)
    return merge_heads(weights @ v) @ w_o, weights


ALTERNATIVES = {"attention_flops": [attention_flops_factored], "attention_score_bytes": [attention_score_bytes_itemsize],
                "multi_head_self_attention": [layer_softmax_float32_cast_back]}


# --- longest_sequence: a correct answer and mutants -------------------------------------------------------


def longest_sequence(memory_bytes, batch, num_heads, dtype):
    per_square = batch * num_heads * dtype.itemsize
    t = math.isqrt(memory_bytes // per_square)
    assert per_square * t * t <= memory_bytes < per_square * (t + 1) ** 2
    return t


def longest_rounded(memory_bytes, batch, num_heads, dtype):
    return round(math.sqrt(memory_bytes / (batch * num_heads * dtype.itemsize)))


def longest_no_itemsize(memory_bytes, batch, num_heads, dtype):
    return math.isqrt(memory_bytes // (batch * num_heads))


def longest_no_heads(memory_bytes, batch, num_heads, dtype):
    return math.isqrt(memory_bytes // (batch * dtype.itemsize))


def longest_no_square_root(memory_bytes, batch, num_heads, dtype):
    return memory_bytes // (batch * num_heads * dtype.itemsize)


def longest_float(memory_bytes, batch, num_heads, dtype):
    return math.floor(math.sqrt(memory_bytes / (batch * num_heads * dtype.itemsize))) * 1.0


def longest_by_search(memory_bytes, batch, num_heads, dtype):
    """A binary search on T, in exact integers: right, and quick even for 2**64 bytes."""
    fits = lambda t: batch * num_heads * t * t * dtype.itemsize <= memory_bytes  # noqa: E731
    low, high = 0, 1
    while fits(high):
        low, high = high, 2 * high
    while high - low > 1:  # fits(low), not fits(high)
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


CORRECT.update({
    "longest_sequence": longest_sequence,
    "answer_heads_cost": "a",
})
MUTANTS.update({
    "longest_rounded": Mutant("longest_sequence", longest_rounded, "rounded to the nearest int"),
    "longest_no_itemsize": Mutant("longest_sequence", longest_no_itemsize, "bytes per score were left out"),
    "longest_no_heads": Mutant("longest_sequence", longest_no_heads, "heads were left out"),
    "longest_no_square_root": Mutant("longest_sequence", longest_no_square_root, "square root is missing"),
    "longest_float": Mutant("longest_sequence", longest_float, "return an int"),
    "heads_cost_one_head": Mutant("answer_heads_cost", "b", "count every head"),
    "heads_cost_softmax": Mutant("answer_heads_cost", "c", "softmax is O(B·h·T²)"),
    "heads_cost_two": Mutant("answer_heads_cost", ["a"], "one letter"),
})
ALTERNATIVES.setdefault("longest_sequence", []).append(longest_by_search)
VISIBLE += ["longest_no_itemsize", "longest_no_square_root"]


# issue 27: questions that apply an idea to new sizes, and questions read from a measurement
CORRECT.update({
    "answer_cross_coefficients": (4, 4, 4),
    "answer_quadratic_share": 2 / 3,
    "answer_flops_growth": "b",
})
MUTANTS.update({
    "cross_no_s_projections": Mutant("answer_cross_coefficients", (8, 0, 4), "over the S key positions"),
    "cross_macs": Mutant("answer_cross_coefficients", (2, 2, 4), "a multiply-add is 2 FLOPs"),
    "cross_two": Mutant("answer_cross_coefficients", (4, 4), "a tuple of 3 ints"),
    "share_half": Mutant("answer_quadratic_share", 0.5, "twice 2d"),
    "share_projections": Mutant("answer_quadratic_share", 1 / 3, "the projections' share"),
    "share_as_text": Mutant("answer_quadratic_share", "2/3", "one number"),
    "growth_linear": Mutant("answer_flops_growth", "a", "the projections alone"),
    "growth_cubic": Mutant("answer_flops_growth", "c", "nothing in the layer is cubic"),
    "growth_as_number": Mutant("answer_flops_growth", 4, "one letter"),
})
VISIBLE += ["cross_two", "share_as_text", "growth_as_number"]
