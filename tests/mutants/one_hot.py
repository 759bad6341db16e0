"""Realistic wrong answers to exercise 01_one_hot, and correct ones to compare with."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import mhsa_ref
from mutants import Mutant

# --- correct answers (learner style, not the reference) ----------------------------------------------


def build_vocab(tokens):
    vocab = {}
    for word in tokens:
        if word not in vocab:
            vocab[word] = len(vocab)
    return vocab


def one_hot(ids, vocab_size):
    out = torch.zeros(*ids.shape, vocab_size, device=ids.device)
    return out.scatter(-1, ids.long().unsqueeze(-1), 1.0)


def cosine_similarity(a, b):
    dot = (a * b).sum(dim=-1)
    lengths = torch.linalg.vector_norm(a, dim=-1) * torch.linalg.vector_norm(b, dim=-1)
    return torch.where(lengths > 0, dot / torch.where(lengths > 0, lengths, torch.ones_like(lengths)), torch.zeros_like(dot))


# --- build_vocab ---------------------------------------------------------------------------------------


def vocab_sorted(tokens):
    return {w: i for i, w in enumerate(sorted(set(tokens)))}


def vocab_last_position(tokens):
    return {w: i for i, w in enumerate(tokens)}


def vocab_from_one(tokens):
    vocab = {}
    for word in tokens:
        if word not in vocab:
            vocab[word] = len(vocab) + 1
    return vocab


def vocab_text_position(tokens):
    return {w: tokens.index(w) for w in tokens}


def vocab_lowercased(tokens):
    return build_vocab([t.lower() for t in tokens])


# --- one_hot -------------------------------------------------------------------------------------------


def one_hot_functional(ids, vocab_size):
    return F.one_hot(ids.long(), vocab_size).float()


def one_hot_eye_on_cpu(ids, vocab_size):
    return torch.eye(vocab_size)[ids]


def one_hot_long_dtype(ids, vocab_size):
    return (ids.unsqueeze(-1) == torch.arange(vocab_size, device=ids.device)).long()


def one_hot_flattened(ids, vocab_size):
    flat = ids.reshape(-1)
    out = torch.zeros(flat.numel(), vocab_size, device=ids.device)
    out[torch.arange(flat.numel(), device=ids.device), flat] = 1.0
    return out


def one_hot_off_by_one(ids, vocab_size):
    positions = torch.arange(1, vocab_size + 1, device=ids.device)  # counted from 1
    return (ids.unsqueeze(-1) == positions).float()


def one_hot_delegates(ids, vocab_size):
    return mhsa_ref.one_hot(ids, vocab_size)


# --- cosine_similarity ---------------------------------------------------------------------------------


def cosine_dot_only(a, b):
    return (a * b).sum(-1)


def cosine_nan_for_zero(a, b):
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def cosine_squared_norms(a, b):
    return (a * b).sum(-1) / ((a * a).sum(-1) * (b * b).sum(-1)).clamp_min(1e-12)


def cosine_first_dim(a, b):
    return cosine_similarity(a.movedim(-1, 0), b.movedim(-1, 0)) if a.dim() > 1 else cosine_similarity(a, b)


def cosine_distance(a, b):
    return 1 - cosine_similarity(a, b)


def cosine_plus_epsilon(a, b):
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + 1e-8)


def cosine_normalise_a_only(a, b):
    return (a * b).sum(-1) / a.norm(dim=-1).clamp_min(1e-12)


ASSIGNMENT = "01_one_hot"
CORRECT = {"build_vocab": build_vocab, "one_hot": one_hot, "cosine_similarity": cosine_similarity}
MUTANTS = {
    "vocab_sorted": Mutant("build_vocab", vocab_sorted, "alphabetical order"),
    "vocab_last_position": Mutant("build_vocab", vocab_last_position, "last appearance"),
    "vocab_from_one": Mutant("build_vocab", vocab_from_one, "start at 1"),
    "vocab_text_position": Mutant("build_vocab", vocab_text_position, "without gaps"),
    "vocab_lowercased": Mutant("build_vocab", vocab_lowercased, "wrong words"),
    "one_hot_functional": Mutant("one_hot", one_hot_functional, "F.one_hot"),
    "one_hot_eye_on_cpu": Mutant("one_hot", one_hot_eye_on_cpu, "device=x.device"),
    "one_hot_long_dtype": Mutant("one_hot", one_hot_long_dtype, "float32"),
    "one_hot_flattened": Mutant("one_hot", one_hot_flattened, "flattened"),
    "one_hot_off_by_one": Mutant("one_hot", one_hot_off_by_one, "counting from 0"),
    "one_hot_delegates": Mutant("one_hot", one_hot_delegates, "reference implementation"),
    "cosine_dot_only": Mutant("cosine_similarity", cosine_dot_only, "without dividing by the lengths"),
    "cosine_nan_for_zero": Mutant("cosine_similarity", cosine_nan_for_zero, "0 / 0 = NaN"),
    "cosine_squared_norms": Mutant("cosine_similarity", cosine_squared_norms, "squared lengths"),
    "cosine_first_dim": Mutant("cosine_similarity", cosine_first_dim, "first dimension"),
    "cosine_distance": Mutant("cosine_similarity", cosine_distance, "1 - cosine"),
    "cosine_normalise_a_only": Mutant("cosine_similarity", cosine_normalise_a_only, "by |a| only"),
    "cosine_plus_epsilon": Mutant("cosine_similarity", cosine_plus_epsilon, "small ε to the denominator"),
}


# --- other correct answers: they must keep full marks too ------------------------------------------------


def cosine_with_clamp(a, b):
    norms = (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-12)
    return (a * b).sum(-1) / norms


def vocab_with_fromkeys(tokens):
    return {w: i for i, w in enumerate(dict.fromkeys(tokens))}


ALTERNATIVES = {"cosine_similarity": [cosine_with_clamp], "build_vocab": [vocab_with_fromkeys]}
VISIBLE = ["vocab_sorted", "vocab_last_position", "one_hot_functional", "one_hot_long_dtype", "one_hot_flattened",
           "cosine_dot_only", "cosine_distance"]


# --- vocab_with_unknown: a correct answer and mutants ------------------------------------------------------


def vocab_with_unknown(tokens, min_count):
    from collections import Counter

    tokens = list(tokens)
    counts = Counter(tokens)
    kept = [w for w in dict.fromkeys(tokens) if counts[w] >= min_count]
    return {"<unk>": 0, **{w: i for i, w in enumerate(kept, start=1)}}


def unknown_missing(tokens, min_count):
    vocab = vocab_with_unknown(tokens, min_count)
    return {w: i - 1 for w, i in vocab.items() if w != "<unk>"}


def unknown_last(tokens, min_count):
    kept = [w for w in vocab_with_unknown(tokens, min_count) if w != "<unk>"]
    return {**{w: i for i, w in enumerate(kept)}, "<unk>": len(kept)}


def unknown_strict_count(tokens, min_count):
    return vocab_with_unknown(tokens, min_count + 1)


def unknown_order_of_reaching(tokens, min_count):
    vocab, seen = {"<unk>": 0}, {}
    for w in tokens:  # numbers a word when it reaches min_count: one pass, no counting first
        seen[w] = seen.get(w, 0) + 1
        if seen[w] >= min_count:
            vocab.setdefault(w, len(vocab))
    return vocab


def unknown_keeps_full_indices(tokens, min_count):
    counts = {w: tokens.count(w) for w in tokens}
    return {"<unk>": 0, **{w: i + 1 for i, w in enumerate(dict.fromkeys(tokens)) if counts[w] >= min_count}}


def unknown_keeps_everything(tokens, min_count):
    return {"<unk>": 0, **{w: i + 1 for i, w in enumerate(dict.fromkeys(tokens))}}


# --- the questions: correct values and known wrong ones ---------------------------------------------------

CORRECT.update({
    "vocab_with_unknown": vocab_with_unknown,
    "answer_one_hot_bytes": 32 * 20 * 10_000 * 4,
})
MUTANTS.update({
    "unknown_missing": Mutant("vocab_with_unknown", unknown_missing, "no \"<unk>\" entry"),
    "unknown_last": Mutant("vocab_with_unknown", unknown_last, "came last"),
    "unknown_strict_count": Mutant("vocab_with_unknown", unknown_strict_count, "count >= min_count"),
    "unknown_order_of_reaching": Mutant("vocab_with_unknown", unknown_order_of_reaching, "reached min_count"),
    "unknown_keeps_full_indices": Mutant("vocab_with_unknown", unknown_keeps_full_indices, "without gaps"),
    "unknown_keeps_everything": Mutant("vocab_with_unknown", unknown_keeps_everything, "fewer than min_count"),
    "bytes_counts_entries": Mutant("answer_one_hot_bytes", 32 * 20 * 10_000, "each float32 entry takes 4 bytes"),
    "bytes_as_text": Mutant("answer_one_hot_bytes", "25.6 MB", "should be one int"),
    "bytes_as_float": Mutant("answer_one_hot_bytes", 25_600_000.0, "as an int"),
})
VISIBLE += ["unknown_missing", "unknown_order_of_reaching", "bytes_as_text"]


# issue 27: questions that apply an idea to new sizes, and questions read from a measurement
CORRECT.update({
    "answer_bag_distance": 0.0,
    "answer_unknown_share": 0.0166,
})
MUTANTS.update({
    "bag_sqrt2": Mutant("answer_bag_distance", 2 ** 0.5, "distance between two different words"),
    "bag_order": Mutant("answer_bag_distance", 2.0, "order of two words"),
    "bag_as_text": Mutant("answer_bag_distance", "0", "one number"),
    "unknown_share_of_words": Mutant("answer_unknown_share", 20 / 172, "share of distinct words"),
    "unknown_share_percent": Mutant("answer_unknown_share", 1.66, "a percentage"),
    "unknown_share_as_text": Mutant("answer_unknown_share", "1.7 %", "one number"),
})
VISIBLE += ["bag_as_text", "unknown_share_as_text"]
