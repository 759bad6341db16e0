"""Attention as a weighted average of values (chapter 04, `chapters/04_attention.md`).

Letters: B batch, T query length, S key length, h heads, d_k query/key width, d_v value width.
Mask convention (the whole course): boolean, True means "may attend", broadcastable to (..., T, S).
A query row with no allowed key gets zero weights and a zero output, never NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from mhsa_ref import _validate, backend


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Numerically stable softmax along `dim`; a slice that is entirely -inf gives zeros.

    Explained in chapter 04, "Softmax, and keeping it finite".

    Args:
        x: scores of any shape (...).
        dim: the axis whose entries become a probability distribution.
    Returns:
        a tensor of the shape, dtype and device of `x`.
    """
    _validate.require_tensor("x", x)
    _validate.require_floating("x", x)
    peak = x.amax(dim=dim, keepdim=True)  # (..., 1, ...)
    # A slice of only -inf has peak -inf, and -inf - (-inf) is NaN: shift such slices by 0 instead.
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    e = (x - peak).exp_()  # every entry in [0, 1], so the sum cannot overflow; in place on the temporary
    total = e.sum(dim=dim, keepdim=True)  # (..., 1, ...)
    # An all -inf slice sums to 0; dividing by 1 there leaves its zeros as they are.
    return e / torch.where(total > 0, total, torch.ones_like(total))


def attention_weights(q: Tensor, k: Tensor, mask: Tensor | None = None) -> Tensor:
    """softmax(q kᵀ / √d_k) with masked keys removed: how much each query takes from each key.

    Args:
        q: (..., T, d_k) queries.
        k: (..., S, d_k) keys.
        mask: bool, True = may attend, broadcastable to (..., T, S).
    Returns:
        weights (..., T, S); each row sums to 1, or is all zeros if its keys are all masked.
    """
    # (q / √d_k) kᵀ equals q kᵀ / √d_k; scaling q touches T·d_k numbers instead of T·S.
    scores = (q / math.sqrt(q.size(-1))) @ k.transpose(-2, -1)  # (..., T, S)
    _validate.check_mask(mask, scores.shape, scores.device)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # (..., T, S)
    return softmax(scores, dim=-1)  # (..., T, S)


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The explicit path: out = softmax(q kᵀ / √d_k) v, with the weights it used.

    Chapter 04 derives it; the scale 1/√d_k keeps the scores' variance near 1 whatever d_k is.

    Args:
        q: (..., T, d_k) queries.
        k: (..., S, d_k) keys.
        v: (..., S, d_v) values.
        mask: bool, True = may attend, broadcastable to (..., T, S).
    Returns:
        out (..., T, d_v) and weights (..., T, S).
    """
    _validate.check_qkv(q, k, v)
    weights = attention_weights(q, k, mask)  # (..., T, S)
    return weights @ v, weights  # (..., T, d_v), (..., T, S)


def attention_entropy(weights: Tensor) -> Tensor:
    """How spread out each query's attention is: the entropy −Σ_s w_s log w_s of its row of weights.

    0 for a query that takes everything from one key, log S for one that spreads evenly over S keys,
    and 0 for a query with nothing to attend to (a row of zeros); in nats (natural log).

    Args:
        weights: (..., T, S) attention weights; each row sums to 1, or is all zeros.
    Returns:
        (..., T), in the weights' dtype and device.
    """
    _validate.require_floating("weights", weights)
    # w log w tends to 0 as w -> 0, but 0 * log 0 is 0 * -inf = NaN in floating point; xlogy(0, 0) is 0.
    return -torch.xlogy(weights, weights).sum(-1)  # (..., T)


def fused_scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, None]:
    """The fused path: same arguments and output as `scaled_dot_product_attention`, no weights.

    One call to `F.scaled_dot_product_attention` (the kernel is pinned on CUDA, see
    `mhsa_ref.backend.cuda_kernel`). It returns no weights, so the second element is None: its
    FlashAttention and memory-efficient kernels never build the (T, S) matrix, and its math
    fallback builds it but does not return it.

    Returns:
        out (..., T, d_v) and None.
    """
    _validate.check_qkv(q, k, v)
    _validate.check_mask(mask, (*q.shape[:-1], k.size(-2)), q.device)
    with backend.pinned_kernel(q, mask):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (..., T, d_v)
    if mask is not None:
        # The course promises zeros for a query with no allowed key; not every kernel does.
        out = out.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # (..., T, d_v)
    return out, None
