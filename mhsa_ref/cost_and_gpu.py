"""What the layer costs: FLOPs, the memory of the score matrix, achieved throughput (chapter 08).

Letters: B batch, T sequence length, h heads, d = d_model.
"""

from __future__ import annotations

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


def achieved_tflops(flops: int, seconds: float) -> float:
    """Throughput in TFLOP/s (10¹² FLOPs per second) of a run that did `flops` in `seconds`."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive; got {seconds}")
    return flops / seconds / 1e12
