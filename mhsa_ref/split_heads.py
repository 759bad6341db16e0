"""Several heads: d_model split into h subspaces of width d_k (chapter 06).

Letters: B batch, T sequence length, h heads, d_k = d_model / h per-head width.
With the lecture note's numbers (d_model = 16, h = 8) every head's subspace is a plane (d_k = 2).
Mask convention (the whole course): boolean, True means "may attend".
"""

from __future__ import annotations

from torch import Tensor

from mhsa_ref import _validate
from mhsa_ref.attention import attention_weights


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """Cut each token's d_model features into h consecutive blocks and give heads their own axis.

    Args:
        x: (B, T, d_model).
        num_heads: h; must divide d_model.
    Returns:
        (B, h, T, d_k), a view of `x` (no copy).
    """
    _validate.require_rank("x", x, 3, "(B, T, d_model)")
    B, T, d_model = x.shape
    d_k = _validate.check_heads(d_model, num_heads)
    # view keeps each head's d_k features together; transpose brings the head axis before T.
    return x.view(B, T, num_heads, d_k).transpose(1, 2)  # (B, h, T, d_k)


def head_norms(x: Tensor, num_heads: int) -> Tensor:
    """The length of each token's point in each head's subspace: one point becomes h points.

    By Pythagoras, the squares of a token's h lengths add up to its squared length in d_model
    dimensions: the heads share the vector out, and each sees only its own block.

    Args:
        x: (B, T, d_model), the tensor the heads split (in the layer, Q = X W^Q, K or V).
        num_heads: h; must divide d_model.
    Returns:
        (B, h, T): [b, i, t] = ‖head i's d_k numbers of token t‖.
    """
    return split_heads(x, num_heads).norm(dim=-1)  # (B, h, T, d_k) -> (B, h, T)


def multi_head_attention_weights(q: Tensor, k: Tensor, num_heads: int, mask: Tensor | None = None) -> Tensor:
    """Each head's attention weights, scaled by 1/√d_k of the head (not 1/√d_model).

    Args:
        q, k: (B, T, d_model) queries and keys before the split.
        num_heads: h.
        mask: bool, True = may attend; (T, T), (B, T, T) or (B|1, h|1, T, T).
    Returns:
        weights (B, h, T, T).
    """
    _validate.require_rank("q", q, 3, "(B, T, d_model)")
    _validate.require_rank("k", k, 3, "(B, T, d_model)")
    if q.shape[0] != k.shape[0] or q.shape[2] != k.shape[2]:
        raise ValueError(f"q and k must share B and d_model; got q {tuple(q.shape)} and k {tuple(k.shape)}")
    qh, kh = split_heads(q, num_heads), split_heads(k, num_heads)  # (B, h, T, d_k), (B, h, S, d_k)
    mask = _validate.head_mask(mask, q.size(0), num_heads, q.size(1), k.size(1), q.device)
    return attention_weights(qh, kh, mask)  # (B, h, T, S)
