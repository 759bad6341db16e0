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
