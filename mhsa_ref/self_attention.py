"""Self-attention: X → Q, K, V → Z, new positions for the same words (chapter 05).

Letters: B batch, T sequence length, d_model input width, d_k query/key width, d_v value width.
Projections are `x @ w` with `w` of shape (d_in, d_out), as in "X × W^Q = Q".
Mask convention (the whole course): boolean, True means "may attend".
"""

from __future__ import annotations

import torch
from torch import Tensor

from mhsa_ref import _validate
from mhsa_ref.attention import fused_scaled_dot_product_attention, scaled_dot_product_attention


def project_qkv(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Queries, keys and values of every position: X W^Q, X W^K, X W^V.

    Args:
        x: (B, T, d_model) word vectors.
        w_q, w_k: (d_model, d_k); w_v: (d_model, d_v).
    Returns:
        q (B, T, d_k), k (B, T, d_k), v (B, T, d_v).
    """
    _validate.require_rank("x", x, 3, "(B, T, d_model)")
    d_model = x.size(-1)
    for name, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v)):
        _validate.check_weight(name, w, d_model)
    _validate.require_same_dtype_device(x=x, w_q=w_q, w_k=w_k, w_v=w_v)
    if w_q.size(1) != w_k.size(1):
        raise ValueError(f"w_q and w_k must have the same output width d_k; got {tuple(w_q.shape)} and {tuple(w_k.shape)}")
    return x @ w_q, x @ w_k, x @ w_v  # (B, T, d_k), (B, T, d_k), (B, T, d_v)


def causal_mask(T: int, device: torch.device | str | None = None) -> Tensor:
    """(T, T) bool mask, True on and below the diagonal: position t may attend to positions ≤ t."""
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive int; got {T!r}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()  # (T, T)


def causal_padding_mask(lengths: Tensor, T: int) -> Tensor:
    """The mask of a batch of sentences padded to T tokens: each word attends to the past, never to padding.

    Args:
        lengths: integer tensor (B,), the number of real tokens of each sentence (1..T); its other
            positions up to T are padding.
        T: the padded length.
    Returns:
        bool (B, T, T) on lengths' device: [b, t, s] is True iff s ≤ t (causal) and s < lengths[b] (a word).
    """
    _validate.require_rank("lengths", lengths, 1, "(B,)")
    keys = torch.arange(T, device=lengths.device)  # (T,)
    is_word = keys < lengths.unsqueeze(-1)  # (B, T): which keys are words, not padding
    # Padding is removed from the keys only: a padding query still gets a row (its output is discarded
    # later), and since key 0 is always a word, no row is ever empty.
    return causal_mask(T, device=lengths.device) & is_word.unsqueeze(1)  # (T, T) & (B, 1, T) -> (B, T, T)


def self_attention(
    x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Z = softmax(Q Kᵀ / √d_k) V with Q, K, V all computed from the same X (explicit path).

    Args:
        x: (B, T, d_model); w_q, w_k: (d_model, d_k); w_v: (d_model, d_v).
        mask: bool, True = may attend, broadcastable to (B, T, T).
    Returns:
        z (B, T, d_v) and weights (B, T, T).
    """
    q, k, v = project_qkv(x, w_q, w_k, w_v)  # (B, T, d_k), (B, T, d_k), (B, T, d_v)
    return scaled_dot_product_attention(q, k, v, mask)


def fused_self_attention(
    x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, None]:
    """`self_attention` through the fused kernel: z (B, T, d_v) and None."""
    q, k, v = project_qkv(x, w_q, w_k, w_v)  # (B, T, d_k), (B, T, d_k), (B, T, d_v)
    return fused_scaled_dot_product_attention(q, k, v, mask)
