"""One-hot vectors: every word a corner of a V-dimensional cube (chapter 01).

Letters: V vocabulary size, D vector width. A vocabulary maps each word to an index 0..V-1 in the
order of first appearance; the one-hot vector of index i is the i-th standard basis vector of R^V.
Any two distinct one-hot vectors are orthogonal (cosine 0) and √2 apart: the representation
says which word it is and nothing about what it means.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

from mhsa_ref import _validate


def build_vocab(tokens: Iterable[str]) -> dict[str, int]:
    """Index every distinct token by order of first appearance, starting at 0.

    Args:
        tokens: words, e.g. ["I", "have", "a", "dream"]; repeats keep their first index.
    Returns:
        dict word -> index, with indices 0..V-1 and no gaps.
    """
    vocab: dict[str, int] = {}
    for token in tokens:
        if not isinstance(token, str):
            raise TypeError(f"build_vocab expects strings (tokens); got {type(token).__name__} {token!r}")
        vocab.setdefault(token, len(vocab))
    return vocab


def encode(tokens: Iterable[str], vocab: dict[str, int], unknown: str | None = None) -> Tensor:
    """The indices of `tokens` as a LongTensor (N,); a word outside `vocab` maps to `unknown` if given."""
    ids = []
    for token in tokens:
        if token in vocab:
            ids.append(vocab[token])
        elif unknown is not None:
            ids.append(vocab[unknown])
        else:
            raise KeyError(f"{token!r} is not in the vocabulary ({len(vocab)} words); build it from text that contains it")
    return torch.tensor(ids, dtype=torch.long)  # (N,)


def one_hot(ids: Tensor, vocab_size: int) -> Tensor:
    """Float32 one-hot vectors: out[..., i] = 1 where i == ids[...], else 0.

    Args:
        ids: LongTensor (...) of indices in 0..vocab_size-1, any number of dimensions.
        vocab_size: V.
    Returns:
        (..., V) float32 on ids' device.
    """
    _validate.require_tensor("ids", ids)
    if ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"ids must be an integer tensor of word indices; got {ids.dtype}")
    if not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive int; got {vocab_size!r}")
    if ids.device.type != "meta" and ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in 0..{vocab_size - 1}; got values from {int(ids.min())} to {int(ids.max())}")
    # Compare each index with every position 0..V-1: True exactly once per vector.
    positions = torch.arange(vocab_size, device=ids.device)  # (V,)
    return (ids.unsqueeze(-1) == positions).to(torch.float32)  # (..., V)


def cosine_similarity(a: Tensor, b: Tensor) -> Tensor:
    """Cosine of the angle between a and b along the last dimension; 0 when either is a zero vector.

    Args:
        a, b: (..., D), broadcastable against each other (e.g. (N, 1, D) and (1, M, D) give (N, M)).
    Returns:
        (...) in the inputs' dtype, never NaN for finite inputs.
    """
    _validate.require_tensor("a", a)
    _validate.require_tensor("b", b)
    if a.size(-1) != b.size(-1):
        raise ValueError(f"a and b must have the same last dimension D; got {tuple(a.shape)} and {tuple(b.shape)}")
    dot = (a * b).sum(-1)  # (...)
    norms = a.norm(dim=-1) * b.norm(dim=-1)  # (...)
    # A zero vector has no direction: its dot product is 0, and dividing it by 1 instead of 0 gives 0, not NaN.
    return dot / torch.where(norms > 0, norms, torch.ones_like(norms))


def cosine_matrix(vectors: Tensor) -> Tensor:
    """(N, D) -> (N, N) cosine of every pair of rows."""
    return cosine_similarity(vectors.unsqueeze(1), vectors.unsqueeze(0))  # (N, N)


UNKNOWN = "<unk>"  # the word that stands for every word left out of a vocabulary


def vocab_with_unknown(tokens: Iterable[str], min_count: int) -> dict[str, int]:
    """A vocabulary of the words seen at least `min_count` times; "<unk>" (index 0) stands for the rest.

    Real vocabularies leave out rare words (a typo, a name seen once): their one-hot dimension and
    their embedding would be learned from almost nothing. Every word left out is encoded as "<unk>".

    Args:
        tokens: words, e.g. a corpus; a word seen fewer than `min_count` times is left out.
        min_count: a positive int.
    Returns:
        dict word -> index: "<unk>" -> 0, then the kept words by order of first appearance, 1..V-1.
    """
    if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
        raise ValueError(f"min_count must be a positive int; got {min_count!r}")
    tokens = list(tokens)
    counts: dict[str, int] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    vocab = {UNKNOWN: 0}
    for token in tokens:  # first appearances, in order: the same rule as build_vocab
        if counts[token] >= min_count:
            vocab.setdefault(token, len(vocab))
    return vocab
