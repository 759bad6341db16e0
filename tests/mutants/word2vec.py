"""Realistic wrong answers to exercise 02_word2vec, and correct ones to compare with."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import mhsa_ref
from mutants import Mutant

# --- correct answers (learner style, not the reference) ----------------------------------------------


def skipgram_pairs(ids, window):
    pairs = []
    n = len(ids)
    for i in range(n):
        for offset in [*range(-window, 0), *range(1, window + 1)]:
            j = i + offset
            if 0 <= j < n:
                pairs.append([int(ids[i]), int(ids[j])])
    return torch.tensor(pairs, dtype=torch.long, device=ids.device).reshape(-1, 2)


def noise_distribution(counts, power=0.75):
    p = counts.double() ** power if counts.dtype == torch.float64 else counts.float() ** power
    return p / p.sum()


def sgns_loss(center, context, negatives):
    pos = F.logsigmoid(torch.einsum("bd,bd->b", center, context))
    neg = F.logsigmoid(-torch.einsum("bkd,bd->bk", negatives, center)).sum(dim=1)
    return -(pos + neg).mean()


# --- skipgram_pairs ------------------------------------------------------------------------------------


def _pairs(ids, offsets, wrap=False):
    rows, n = [], len(ids)
    for i in range(n):
        for o in offsets:
            j = (i + o) % n if wrap else i + o
            if 0 <= j < n:
                rows.append([int(ids[i]), int(ids[j])])
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 2)


def pairs_with_self(ids, window):
    return _pairs(ids, range(-window, window + 1))


def pairs_swapped(ids, window):
    return skipgram_pairs(ids, window).flip(1)


def pairs_wrap_around(ids, window):
    return _pairs(ids, [*range(-window, 0), *range(1, window + 1)], wrap=True)


def pairs_window_too_small(ids, window):
    return _pairs(ids, [*range(-window + 1, 0), *range(1, window)])


def pairs_right_only(ids, window):
    return _pairs(ids, range(1, window + 1))


def pairs_flat_when_empty(ids, window):
    rows = [[int(ids[i]), int(ids[i + o])] for i in range(len(ids))
            for o in [*range(-window, 0), *range(1, window + 1)] if 0 <= i + o < len(ids)]
    return torch.tensor(rows, dtype=torch.long)  # shape (0,) when there is no pair


def pairs_float(ids, window):
    return skipgram_pairs(ids, window).float()


# --- noise_distribution --------------------------------------------------------------------------------


def noise_unnormalised(counts, power=0.75):
    return counts.float() ** power if not counts.is_floating_point() else counts ** power


def noise_no_power(counts, power=0.75):
    return counts / counts.sum()


def noise_fixed_power(counts, power=0.75):
    return noise_distribution(counts, 0.75)


def noise_power_after_normalising(counts, power=0.75):
    return (counts / counts.sum()) ** power


def noise_float64_becomes_float32(counts, power=0.75):
    p = counts.float() ** power
    return p / p.sum()


# --- sgns_loss -----------------------------------------------------------------------------------------


def sgns_naive_log_sigmoid(center, context, negatives):
    pos = torch.log(torch.sigmoid((center * context).sum(-1)))
    neg = torch.log(torch.sigmoid(-(negatives @ center.unsqueeze(-1)).squeeze(-1))).sum(-1)
    return -(pos + neg).mean()


def sgns_log_sigmoid_plus_epsilon(center, context, negatives):
    pos = torch.log(torch.sigmoid((center * context).sum(-1)) + 1e-8)
    neg = torch.log(torch.sigmoid(-(negatives @ center.unsqueeze(-1)).squeeze(-1)) + 1e-8).sum(-1)
    return -(pos + neg).mean()


def sgns_sum_over_batch(center, context, negatives):
    return sgns_loss(center, context, negatives) * center.shape[0]


def sgns_negative_sign(center, context, negatives):
    pos = F.logsigmoid((center * context).sum(-1))
    neg = F.logsigmoid((negatives @ center.unsqueeze(-1)).squeeze(-1)).sum(-1)
    return -(pos + neg).mean()


def sgns_mean_over_negatives(center, context, negatives):
    pos = F.logsigmoid((center * context).sum(-1))
    neg = F.logsigmoid(-(negatives @ center.unsqueeze(-1)).squeeze(-1)).mean(-1)
    return -(pos + neg).mean()


def sgns_no_negatives(center, context, negatives):
    return -F.logsigmoid((center * context).sum(-1)).mean()


def sgns_item(center, context, negatives):
    return torch.tensor(sgns_loss(center, context, negatives).item(), dtype=center.dtype)


def sgns_delegates(center, context, negatives):
    return mhsa_ref.sgns_loss(center, context, negatives)


ASSIGNMENT = "02_word2vec"
CORRECT = {"skipgram_pairs": skipgram_pairs, "noise_distribution": noise_distribution, "sgns_loss": sgns_loss}
MUTANTS = {
    "pairs_with_self": Mutant("skipgram_pairs", pairs_with_self, "paired with itself"),
    "pairs_swapped": Mutant("skipgram_pairs", pairs_swapped, "columns are swapped"),
    "pairs_wrap_around": Mutant("skipgram_pairs", pairs_wrap_around, "wrapped around"),
    "pairs_window_too_small": Mutant("skipgram_pairs", pairs_window_too_small, "one too small"),
    "pairs_right_only": Mutant("skipgram_pairs", pairs_right_only, "only the words after"),
    "pairs_float": Mutant("skipgram_pairs", pairs_float, "torch.long"),
    "pairs_flat_when_empty": Mutant("skipgram_pairs", pairs_flat_when_empty, "gives shape (0, 2)"),
    "noise_unnormalised": Mutant("noise_distribution", noise_unnormalised, "not normalised"),
    "noise_no_power": Mutant("noise_distribution", noise_no_power, "power was not applied"),
    "noise_fixed_power": Mutant("noise_distribution", noise_fixed_power, "always 0.75"),
    "noise_power_after_normalising": Mutant("noise_distribution", noise_power_after_normalising, "normalised before the power"),
    "noise_float64_becomes_float32": Mutant("noise_distribution", noise_float64_becomes_float32, "Wrong dtype"),
    "sgns_naive_log_sigmoid": Mutant("sgns_loss", sgns_naive_log_sigmoid, "F.logsigmoid"),
    "sgns_log_sigmoid_plus_epsilon": Mutant("sgns_loss", sgns_log_sigmoid_plus_epsilon, "log(σ(x) + ε)"),
    "sgns_sum_over_batch": Mutant("sgns_loss", sgns_sum_over_batch, "summed over the batch"),
    "sgns_negative_sign": Mutant("sgns_loss", sgns_negative_sign, "log σ(−c·n)"),
    "sgns_mean_over_negatives": Mutant("sgns_loss", sgns_mean_over_negatives, "averaged over the K noise words"),
    "sgns_no_negatives": Mutant("sgns_loss", sgns_no_negatives, "negatives' term is missing"),
    "sgns_item": Mutant("sgns_loss", sgns_item, "does not pass gradients"),
    "sgns_delegates": Mutant("sgns_loss", sgns_delegates, "reference implementation"),
}
VISIBLE = ["pairs_with_self", "pairs_swapped", "pairs_wrap_around", "noise_unnormalised", "noise_no_power",
           "sgns_sum_over_batch", "sgns_negative_sign"]


# --- other correct answers: they must keep full marks too ------------------------------------------------


def pairs_vectorised(ids, window):
    n = ids.shape[0]
    out = []
    for i in range(n):  # center position, then offsets in order
        for o in [*range(-window, 0), *range(1, window + 1)]:
            if 0 <= i + o < n:
                out.append(torch.stack([ids[i], ids[i + o]]))
    return torch.stack(out) if out else ids.new_empty((0, 2))


def sgns_with_bmm(center, context, negatives):
    pos = F.logsigmoid(torch.bmm(center.unsqueeze(1), context.unsqueeze(2)).view(-1))
    neg = F.logsigmoid(-torch.bmm(negatives, center.unsqueeze(2)).squeeze(2)).sum(1)
    return (-(pos + neg)).mean()


ALTERNATIVES = {"skipgram_pairs": [pairs_vectorised], "sgns_loss": [sgns_with_bmm]}


# --- cooccurrence_counts: a correct answer and mutants ------------------------------------------------------


def cooccurrence_counts(pairs, vocab_size):
    flat = pairs[:, 0] * vocab_size + pairs[:, 1]  # (P,): one index per (c, o) cell
    return torch.bincount(flat, minlength=vocab_size * vocab_size).view(vocab_size, vocab_size)


def cooccurrence_transposed(pairs, vocab_size):
    return cooccurrence_counts(pairs, vocab_size).T


def cooccurrence_no_accumulate(pairs, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long, device=pairs.device)
    counts[pairs[:, 0], pairs[:, 1]] += 1  # a repeated (c, o) is written once
    return counts


def cooccurrence_both_directions(pairs, vocab_size):
    counts = cooccurrence_counts(pairs, vocab_size)
    return counts + counts.T


def cooccurrence_probabilities(pairs, vocab_size):
    counts = cooccurrence_counts(pairs, vocab_size).float()
    return counts / counts.sum().clamp_min(1)


def cooccurrence_loop(pairs, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long, device=pairs.device)
    for c, o in pairs.tolist():
        counts[c, o] += 1
    return counts


CORRECT.update({
    "cooccurrence_counts": cooccurrence_counts,
    "answer_pair_count": 34,
    "answer_noise_share": 1 / 9,
})
MUTANTS.update({
    "cooccurrence_transposed": Mutant("cooccurrence_counts", cooccurrence_transposed, "transposed"),
    "cooccurrence_no_accumulate": Mutant("cooccurrence_counts", cooccurrence_no_accumulate, "accumulate=True"),
    "cooccurrence_both_directions": Mutant("cooccurrence_counts", cooccurrence_both_directions, "both directions"),
    "cooccurrence_probabilities": Mutant("cooccurrence_counts", cooccurrence_probabilities, "counts are integers"),
    "pair_count_no_ends": Mutant("answer_pair_count", 40, "fall off the ends"),
    "pair_count_as_text": Mutant("answer_pair_count", "34 pairs", "should be one int"),
    "noise_share_frequency": Mutant("answer_noise_share", 1 / 17, "share of the text"),
    "noise_share_as_text": Mutant("answer_noise_share", "1/9", "should be one number"),
})
ALTERNATIVES.setdefault("cooccurrence_counts", []).append(cooccurrence_loop)
VISIBLE += ["cooccurrence_transposed", "cooccurrence_no_accumulate", "pair_count_as_text"]


# issue 27: questions that apply an idea to new sizes, and questions read from a measurement
CORRECT.update({
    "answer_bank_contexts": "a",
})
MUTANTS.update({
    "bank_money": Mutant("answer_bank_contexts", "b", "money words add up"),
    "bank_river": Mutant("answer_bank_contexts", "c", "river words add up"),
    "bank_as_word": Mutant("answer_bank_contexts", "the", "one letter"),
})
VISIBLE += ["bank_as_word"]
