"""What the layer costs: FLOPs, the memory of the score matrix, achieved throughput (chapter 08).

Letters: B batch, T sequence length, h heads, d = d_model.
"""

from __future__ import annotations

import math

import torch


def _positive_ints(**sizes: int) -> None:
    for name, n in sizes.items():
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{name} must be a positive int; got {n!r}")


def attention_flops(batch: int, seq_len: int, d_model: int, num_heads: int) -> int:
    """Forward FLOPs of one multi-head self-attention layer: 8·B·T·d² + 4·B·T²·d.

    A multiply-add counts as 2 FLOPs; softmax and masking are not counted. The four projections
    (Q, K, V and W^O) are 4 · 2·B·T·d²; the scores Q Kᵀ and the weighted sum of V are 2 · 2·B·T²·d,
    the same whatever the number of heads (each head does 1/h of the work).
    """
    _positive_ints(batch=batch, seq_len=seq_len, d_model=d_model, num_heads=num_heads)
    if d_model % num_heads:
        raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
    return 8 * batch * seq_len * d_model**2 + 4 * batch * seq_len**2 * d_model


def attention_score_bytes(batch: int, seq_len: int, num_heads: int, dtype: torch.dtype) -> int:
    """Bytes of one materialised (B, h, T, T) score matrix in `dtype`: what a fused kernel avoids."""
    _positive_ints(batch=batch, seq_len=seq_len, num_heads=num_heads)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype such as torch.float32; got {dtype!r}")
    return batch * num_heads * seq_len * seq_len * dtype.itemsize


def longest_sequence(memory_bytes: int, batch: int, num_heads: int, dtype: torch.dtype) -> int:
    """The longest T whose (B, h, T, T) score matrix fits in `memory_bytes`: where the explicit path stops.

    The score matrix grows as T², so doubling the memory buys only √2 times the length. 0 when not
    even T = 1 fits.

    Args:
        memory_bytes: the memory available for the scores, in bytes (an int ≥ 0).
        batch, num_heads: B and h.
        dtype: the scores' dtype (its `itemsize` is the bytes per score).
    Returns:
        the largest int T with B·h·T²·itemsize ≤ memory_bytes.
    """
    _positive_ints(batch=batch, num_heads=num_heads)
    if not isinstance(memory_bytes, int) or isinstance(memory_bytes, bool) or memory_bytes < 0:
        raise ValueError(f"memory_bytes must be an int >= 0; got {memory_bytes!r}")
    per_square = batch * num_heads * dtype.itemsize  # bytes of the scores per unit of T²
    # T² ≤ M / c  ⟺  T² ≤ ⌊M / c⌋ for an integer T; math.isqrt is exact where math.sqrt would round
    return math.isqrt(memory_bytes // per_square)


def achieved_tflops(flops: int, seconds: float) -> float:
    """Throughput in TFLOP/s (10¹² FLOPs per second) of a run that did `flops` in `seconds`."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive; got {seconds}")
    return flops / seconds / 1e12


def tiled_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_size: int
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attention one block of keys at a time, with an online softmax: FlashAttention's idea, in PyTorch.

    Never holds more than (..., T, block_size) scores. For every query it keeps a running maximum m,
    a running denominator l and a running weighted sum of values; when a block brings a larger
    maximum, what was kept is rescaled by exp(m_old − m_new). No mask: the point is the loop.

    Args:
        q: (..., T, d_k); k: (..., S, d_k); v: (..., S, d_v); block_size: keys per block.
    Returns:
        out (..., T, d_v), equal to softmax(q kᵀ/√d_k) v; and the running maximum and denominator
        after each block, both (..., T, n_blocks): the state a fused kernel carries along a row.
    """
    _positive_ints(block_size=block_size)
    if q.size(-1) != k.size(-1) or k.size(-2) != v.size(-2):
        raise ValueError(f"q (..., T, d_k), k (..., S, d_k) and v (..., S, d_v) do not fit: "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    q = q / q.size(-1) ** 0.5
    m = q.new_full(q.shape[:-1], float("-inf")).unsqueeze(-1)  # (..., T, 1)
    l = q.new_zeros(q.shape[:-1]).unsqueeze(-1)  # (..., T, 1)
    acc = q.new_zeros(*q.shape[:-1], v.size(-1))  # (..., T, d_v)
    maxima, sums = [], []
    for start in range(0, k.size(-2), block_size):
        scores = q @ k[..., start:start + block_size, :].transpose(-2, -1)  # (..., T, block)
        m_new = torch.maximum(m, scores.amax(-1, keepdim=True))  # (..., T, 1)
        rescale = torch.exp(m - m_new)  # what was kept was measured against the old maximum
        p = torch.exp(scores - m_new)  # (..., T, block)
        l = l * rescale + p.sum(-1, keepdim=True)
        acc = acc * rescale + p @ v[..., start:start + block_size, :]  # (..., T, d_v)
        m = m_new
        maxima.append(m)
        sums.append(l)
    return acc / l, torch.cat(maxima, -1), torch.cat(sums, -1)
