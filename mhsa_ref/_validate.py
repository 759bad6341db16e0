"""Input checks shared by every public function: each error says what was expected and what came.

Letters: B batch, T query length, S key length, h heads, d_k head width, d_v value width.
Mask convention (the whole course): a boolean tensor, True means "may attend".
"""

from __future__ import annotations

import torch
from torch import Tensor


def _describe(t: Tensor) -> str:
    return f"shape {tuple(t.shape)}, dtype {t.dtype}, device {t.device}"


def require_tensor(name: str, x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def require_rank(name: str, x: Tensor, rank: int, letters: str) -> None:
    """Exact rank, e.g. require_rank("x", x, 3, "(B, T, d_model)")."""
    require_tensor(name, x)
    if x.dim() != rank:
        raise ValueError(f"{name} must have {rank} dimensions {letters}; got {x.dim()} ({_describe(x)})")


def require_min_rank(name: str, x: Tensor, rank: int, letters: str) -> None:
    require_tensor(name, x)
    if x.dim() < rank:
        raise ValueError(
            f"{name} must have at least {rank} dimensions {letters}; got {x.dim()} ({_describe(x)})"
        )


def require_floating(name: str, x: Tensor) -> None:
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor; got {x.dtype}")


def require_same_dtype_device(**tensors: Tensor) -> None:
    items = list(tensors.items())
    first_name, first = items[0]
    for name, t in items[1:]:
        if t.dtype != first.dtype or t.device != first.device:
            raise ValueError(
                f"{first_name} and {name} must share dtype and device; got {first_name}: "
                f"{first.dtype} on {first.device}, {name}: {t.dtype} on {t.device}"
            )


def check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """q (..., T, d_k), k (..., S, d_k), v (..., S, d_v) with the same leading dimensions."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_min_rank(name, t, 2, "(..., length, width)")
        require_floating(name, t)
    require_same_dtype_device(q=q, k=k, v=v)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last size d_k (each query is compared with each key); "
            f"got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions S (one value per key); "
            f"got k {tuple(k.shape)} and v {tuple(v.shape)}"
        )
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(
            f"q, k and v must have the same leading (batch, head) dimensions; got q {tuple(q.shape)}, "
            f"k {tuple(k.shape)}, v {tuple(v.shape)}"
        )


def check_mask(mask: Tensor | None, scores_shape: torch.Size | tuple[int, ...], device: torch.device) -> None:
    """mask: bool, True = may attend, broadcastable to the score shape (..., T, S)."""
    if mask is None:
        return
    require_tensor("mask", mask)
    if mask.dtype != torch.bool:
        raise ValueError(
            f"mask must be a bool tensor (True means 'may attend'); got {mask.dtype}. "
            f"An additive float mask m converts with `mask = m == 0`."
        )
    if mask.device != device:
        raise ValueError(f"mask is on {mask.device} but the scores are on {device}")
    target = tuple(scores_shape)
    try:
        shape = torch.broadcast_shapes(tuple(mask.shape), target)
    except RuntimeError:
        shape = None
    if shape != target:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape {target} "
            f"(..., T, S): its last two sizes must be (T, S) or 1"
        )


def check_weight(name: str, w: Tensor, d_in: int, d_out: int | None = None) -> None:
    """A projection matrix used as x @ w: shape (d_in, d_out)."""
    require_rank(name, w, 2, "(d_in, d_out)")
    if w.shape[0] != d_in or (d_out is not None and w.shape[1] != d_out):
        want = f"({d_in}, {d_out if d_out is not None else 'd_out'})"
        raise ValueError(
            f"{name} must have shape {want} because it is applied as x @ {name}; got {tuple(w.shape)}"
            + (" (is it transposed? nn.Linear stores weight as (d_out, d_in))" if w.shape[1] == d_in else "")
        )


def check_heads(d_model: int, num_heads: int) -> int:
    """Return d_k = d_model // num_heads, or say why the split is impossible."""
    if not isinstance(num_heads, int) or num_heads <= 0:
        raise ValueError(f"num_heads must be a positive int; got {num_heads!r}")
    if d_model % num_heads != 0:
        raise ValueError(
            f"d_model={d_model} cannot be split into num_heads={num_heads} equal heads: "
            f"d_model % num_heads must be 0 (each head gets d_k = d_model / num_heads columns); "
            f"try a num_heads that divides {d_model}"
        )
    return d_model // num_heads


def head_mask(mask: Tensor | None, batch: int, num_heads: int, t: int, s: int, device: torch.device) -> Tensor | None:
    """Bring a mask of shape (T, S), (B, T, S) or (B|1, h|1, T, S) to a shape that broadcasts to (B, h, T, S).

    A 3-D mask is per batch element, so it gains a head axis (B, 1, T, S): without this, plain
    broadcasting would line its B up with the head axis.
    """
    if mask is None:
        return None
    require_tensor("mask", mask)
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)  # (B, 1, T, S)
    elif mask.dim() not in (2, 4):
        raise ValueError(
            f"a multi-head mask must have shape (T, S), (B, T, S) or (B, h, T, S); got {tuple(mask.shape)}"
        )
    check_mask(mask, (batch, num_heads, t, s), device)
    return mask
