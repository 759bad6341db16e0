"""Realistic wrong answers to exercise 03_elmo, and correct ones to compare with."""

from __future__ import annotations

import torch

import mhsa_ref
from mutants import Mutant

# --- correct answers (learner style, not the reference) ----------------------------------------------


def bidirectional_targets(ids):
    pad = torch.full_like(ids[:, :1], -100)
    return torch.cat([ids[:, 1:], pad], dim=1), torch.cat([pad, ids[:, :-1]], dim=1)


def scalar_mix(layers, s, gamma):
    w = torch.softmax(s, dim=0)
    return gamma * torch.tensordot(w, layers, dims=([0], [0]))


# --- bidirectional_targets ------------------------------------------------------------------------------


def targets_swapped(ids):
    fwd, bwd = bidirectional_targets(ids)
    return bwd, fwd


def targets_zero_fill(ids):
    pad = torch.zeros_like(ids[:, :1])
    return torch.cat([ids[:, 1:], pad], dim=1), torch.cat([pad, ids[:, :-1]], dim=1)


def targets_roll(ids):
    return ids.roll(-1, dims=1), ids.roll(1, dims=1)


def targets_in_place(ids):
    bwd = torch.full_like(ids, -100)
    bwd[:, 1:] = ids[:, :-1]
    fwd = ids  # a view of the input: the next line overwrites the learner's own ids
    fwd[:, :-1] = ids[:, 1:].clone()
    fwd[:, -1] = -100
    return fwd, bwd


def targets_cpu_padding(ids):
    pad = torch.full((ids.shape[0], 1), -100, dtype=ids.dtype)
    return torch.cat([ids[:, 1:], pad], dim=1), torch.cat([pad, ids[:, :-1]], dim=1)


def targets_stacked(ids):
    return torch.stack(bidirectional_targets(ids))  # one (2, B, T) tensor instead of a pair


def targets_minus_one(ids):
    pad = torch.full_like(ids[:, :1], -1)
    return torch.cat([ids[:, 1:], pad], dim=1), torch.cat([pad, ids[:, :-1]], dim=1)


# --- scalar_mix ----------------------------------------------------------------------------------------


def mix_no_softmax(layers, s, gamma):
    return gamma * torch.tensordot(s, layers, dims=([0], [0]))


def mix_normalise_by_sum(layers, s, gamma):
    return gamma * torch.tensordot(s / s.sum(), layers, dims=([0], [0]))


def mix_no_gamma(layers, s, gamma):
    return torch.tensordot(torch.softmax(s, 0), layers, dims=([0], [0]))


def mix_mean(layers, s, gamma):
    return gamma * layers.mean(0)


def mix_fixed_rank(layers, s, gamma):
    return gamma * (torch.softmax(s, 0).view(-1, 1, 1, 1) * layers).sum(0)


def mix_detached(layers, s, gamma):
    w = torch.softmax(s.detach(), dim=0)
    return float(gamma.detach() if torch.is_tensor(gamma) else gamma) * torch.tensordot(w, layers, dims=([0], [0]))


def mix_delegates(layers, s, gamma):
    return mhsa_ref.scalar_mix(layers, s, gamma)


ASSIGNMENT = "03_elmo"
CORRECT = {"bidirectional_targets": bidirectional_targets, "scalar_mix": scalar_mix}
MUTANTS = {
    "targets_swapped": Mutant("bidirectional_targets", targets_swapped, "swapped"),
    "targets_zero_fill": Mutant("bidirectional_targets", targets_zero_fill, "hold 0"),
    "targets_roll": Mutant("bidirectional_targets", targets_roll, "wrap around"),
    "targets_in_place": Mutant("bidirectional_targets", targets_in_place, "changed an input in place"),
    "targets_cpu_padding": Mutant("bidirectional_targets", targets_cpu_padding, "fixed device"),
    "targets_minus_one": Mutant("bidirectional_targets", targets_minus_one, "hold −1"),
    "targets_stacked": Mutant("bidirectional_targets", targets_stacked, "should return 2 results (fwd, bwd)"),
    "mix_no_softmax": Mutant("scalar_mix", mix_no_softmax, "softmax(s)"),
    "mix_normalise_by_sum": Mutant("scalar_mix", mix_normalise_by_sum, "s / s.sum()"),
    "mix_no_gamma": Mutant("scalar_mix", mix_no_gamma, "γ is missing"),
    "mix_mean": Mutant("scalar_mix", mix_mean, "equal weights"),
    "mix_fixed_rank": Mutant("scalar_mix", mix_fixed_rank, "layers.dim() - 1"),
    "mix_detached": Mutant("scalar_mix", mix_detached, "no gradient"),
    "mix_delegates": Mutant("scalar_mix", mix_delegates, "reference implementation"),
}
VISIBLE = ["targets_swapped", "targets_zero_fill", "targets_roll", "mix_no_softmax", "mix_no_gamma"]


# --- other correct answers: they must keep full marks too ------------------------------------------------


def targets_as_list(ids):
    fwd = torch.full(ids.shape, -100, dtype=torch.long, device=ids.device)
    bwd = torch.full(ids.shape, -100, dtype=torch.long, device=ids.device)
    fwd[:, :-1], bwd[:, 1:] = ids[:, 1:], ids[:, :-1]
    return [fwd, bwd]


def mix_with_einsum(layers, s, gamma):
    return gamma * torch.einsum("l,l...->...", torch.softmax(s, 0), layers)


ALTERNATIVES = {"bidirectional_targets": [targets_as_list], "scalar_mix": [mix_with_einsum]}


# --- perplexity: a correct answer and mutants ------------------------------------------------------------


def perplexity(logits, targets):
    flat_logits, flat_targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    return torch.nn.functional.cross_entropy(flat_logits, flat_targets, ignore_index=-100).exp()


def _token_losses(logits, targets):
    keep = targets != -100
    log_p = logits.log_softmax(-1).gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return -log_p, keep


def perplexity_returns_loss(logits, targets):
    nll, keep = _token_losses(logits, targets)
    return (nll * keep).sum() / keep.sum()


def perplexity_counts_ignored(logits, targets):
    nll, keep = _token_losses(logits, targets)
    return ((nll * keep).sum() / keep.numel()).exp()


def perplexity_mean_of_exp(logits, targets):
    nll, keep = _token_losses(logits, targets)
    return (nll.exp() * keep).sum() / keep.sum()


def perplexity_naive_log(logits, targets):
    keep = targets != -100
    p = logits.exp() / logits.exp().sum(-1, keepdim=True)  # overflows for confident logits
    picked = p.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (-(picked.log() * keep).sum() / keep.sum()).exp()


def perplexity_as_float(logits, targets):
    return perplexity(logits, targets).item()


def perplexity_boolean_index(logits, targets):
    keep = targets != -100
    log_p = logits.log_softmax(-1)[keep]  # (N, V): the positions with a target
    return (-log_p.gather(-1, targets[keep].unsqueeze(-1)).mean()).exp()


CORRECT.update({
    "perplexity": perplexity,
    "answer_copy_target": "a",
})
MUTANTS.update({
    "perplexity_returns_loss": Mutant("perplexity", perplexity_returns_loss, "perplexity is its exponential"),
    "perplexity_counts_ignored": Mutant("perplexity", perplexity_counts_ignored, "counted in the mean"),
    "perplexity_mean_of_exp": Mutant("perplexity", perplexity_mean_of_exp, "per-position perplexities"),
    "perplexity_naive_log": Mutant("perplexity", perplexity_naive_log, "log_softmax"),
    "perplexity_as_float": Mutant("perplexity", perplexity_as_float, "Python float"),
    "copy_target_same": Mutant("answer_copy_target", "b", "nothing is left to predict"),
    "copy_target_impossible": Mutant("answer_copy_target", "(c)", "easier, not impossible"),
    "copy_target_word": Mutant("answer_copy_target", "copy", "one letter"),
})
ALTERNATIVES.setdefault("perplexity", []).append(perplexity_boolean_index)
VISIBLE += ["perplexity_returns_loss", "perplexity_counts_ignored", "copy_target_word"]


# issue 27: questions that apply an idea to new sizes, and questions read from a measurement
CORRECT.update({
    "answer_mixed_perplexity": 2.0,
    "answer_bilm_perplexity": 3.59,
})
MUTANTS.update({
    "mixed_arithmetic": Mutant("answer_mixed_perplexity", 2.5, "averages the per-position perplexities"),
    "mixed_unsure_only": Mutant("answer_mixed_perplexity", 4, "uncertain positions alone"),
    "mixed_as_text": Mutant("answer_mixed_perplexity", "two", "one number"),
    "bilm_uniform": Mutant("answer_bilm_perplexity", 175, "uniform model"),
    "bilm_loss": Mutant("answer_bilm_perplexity", 1.278, "the mean loss"),
    "bilm_as_text": Mutant("answer_bilm_perplexity", "3.6 words", "one number"),
})
VISIBLE += ["mixed_as_text", "bilm_as_text"]
