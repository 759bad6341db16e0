"""Concatenate the heads and mix them with W^O: the whole multi-head self-attention layer (chapter 07).

Letters: B batch, T sequence length, h heads, d_k per-head width, d_model = h · d_k.
Projections are `x @ w` with `w` of shape (d_in, d_out). Mask convention (the whole course):
boolean, True means "may attend" — the opposite of `nn.MultiheadAttention`'s boolean `attn_mask`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mhsa_ref import _validate, backend
from mhsa_ref.attention import fused_scaled_dot_product_attention, scaled_dot_product_attention
from mhsa_ref.self_attention import project_qkv
from mhsa_ref.split_heads import split_heads


def merge_heads(x: Tensor) -> Tensor:
    """Concatenate the heads of every token, head 0 first: the inverse of `split_heads`.

    `x.transpose(1, 2)` is not contiguous, so `.view` would raise (the lecture note's "FAIL");
    `reshape` copies when it must. Chapter 07 walks through the strides.

    Args:
        x: (B, h, T, d_k).
    Returns:
        (B, T, h·d_k).
    """
    _validate.require_rank("x", x, 4, "(B, h, T, d_k)")
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_k)  # (B, T, h, d_k) -> (B, T, h·d_k)


def head_contributions(z: Tensor, w_o: Tensor) -> Tensor:
    """What each head adds to the layer's output: Concat(Z_0, …, Z_{h−1}) W^O = Σ_i Z_i W^O_i.

    W^O_i is block i of W^O's rows, i·d_k … (i+1)·d_k − 1: the rows that multiply head i's features in
    the concatenation. So W^O does not act on the concatenation as a whole: it maps every head's
    output into the output space and adds the h results.

    Args:
        z: (B, h, T, d_k), every head's attention output.
        w_o: (h·d_k, d_out), the output projection (d_out = d_model in the layer).
    Returns:
        (B, h, T, d_out); its sum over the heads is merge_heads(z) @ w_o.
    """
    _validate.require_rank("z", z, 4, "(B, h, T, d_k)")
    B, h, T, d_k = z.shape
    if w_o.dim() != 2 or w_o.size(0) != h * d_k:
        raise ValueError(f"w_o must be (h·d_k, d_out) = ({h * d_k}, d_out) for z {tuple(z.shape)}; got {tuple(w_o.shape)}")
    blocks = w_o.reshape(h, d_k, w_o.size(1))  # (h, d_k, d_out): block i is W^O_i
    return z @ blocks  # (B, h, T, d_k) @ (h, d_k, d_out) -> (B, h, T, d_out)


def _check_layer_weights(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, w_o: Tensor, num_heads: int) -> None:
    _validate.require_rank("x", x, 3, "(B, T, d_model)")
    d_model = x.size(-1)
    _validate.check_heads(d_model, num_heads)
    for name, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v), ("w_o", w_o)):
        _validate.check_weight(name, w, d_model, d_model)


def _heads(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, w_o: Tensor, num_heads: int, mask: Tensor | None):
    """Check the layer's inputs, project x and split Q, K, V into heads; bring the mask to 4-D."""
    _check_layer_weights(x, w_q, w_k, w_v, w_o, num_heads)
    q, k, v = project_qkv(x, w_q, w_k, w_v)  # (B, T, d_model) each
    qh, kh, vh = (split_heads(t, num_heads) for t in (q, k, v))  # (B, h, T, d_k) each
    return qh, kh, vh, _validate.head_mask(mask, x.size(0), num_heads, x.size(1), x.size(1), x.device)


def multi_head_self_attention(
    x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, w_o: Tensor, num_heads: int, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The whole layer, explicit path: project, split into h heads, attend, concatenate, apply W^O.

    Args:
        x: (B, T, d_model).
        w_q, w_k, w_v, w_o: (d_model, d_model); no biases in the functional form.
        num_heads: h; must divide d_model.
        mask: bool, True = may attend; (T, T), (B, T, T) or (B|1, h|1, T, T).
    Returns:
        out (B, T, d_model) and weights (B, h, T, T).
    """
    qh, kh, vh, mask = _heads(x, w_q, w_k, w_v, w_o, num_heads, mask)  # (B, h, T, d_k) each
    z, weights = scaled_dot_product_attention(qh, kh, vh, mask)  # (B, h, T, d_k), (B, h, T, T)
    return merge_heads(z) @ w_o, weights  # (B, T, d_model), (B, h, T, T)


def fused_multi_head_self_attention(
    x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, w_o: Tensor, num_heads: int, mask: Tensor | None = None
) -> tuple[Tensor, None]:
    """`multi_head_self_attention` through the fused kernel: out (B, T, d_model) and None."""
    qh, kh, vh, mask = _heads(x, w_q, w_k, w_v, w_o, num_heads, mask)  # (B, h, T, d_k) each
    z, _ = fused_scaled_dot_product_attention(qh, kh, vh, mask)  # (B, h, T, d_k)
    return merge_heads(z) @ w_o, None  # (B, T, d_model)


def multi_head_self_attention_loop(
    x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, w_o: Tensor, num_heads: int, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The same layer written head by head, as the "Thinking Machines" figure draws it.

    Head i uses columns i·d_k … (i+1)·d_k of W^Q, W^K, W^V; the h outputs are joined with
    `torch.cat`. Slower than the batched form; chapter 07 checks the two agree.
    """
    _check_layer_weights(x, w_q, w_k, w_v, w_o, num_heads)
    d_k = x.size(-1) // num_heads
    mask = _validate.head_mask(mask, x.size(0), num_heads, x.size(1), x.size(1), x.device)
    outs, weights = [], []
    for i in range(num_heads):
        cols = slice(i * d_k, (i + 1) * d_k)
        q, k, v = x @ w_q[:, cols], x @ w_k[:, cols], x @ w_v[:, cols]  # (B, T, d_k) each
        z, w = scaled_dot_product_attention(q, k, v, _one_head(mask, i))  # (B, T, d_k), (B, T, T)
        outs.append(z)
        weights.append(w)
    return torch.cat(outs, dim=-1) @ w_o, torch.stack(weights, dim=1)  # (B, T, d_model), (B, h, T, T)


def _one_head(mask: Tensor | None, i: int) -> Tensor | None:
    """Head i's slice of a mask that is (T, S) or (B|1, h|1, T, S)."""
    if mask is None or mask.dim() == 2:
        return mask
    return mask[:, i if mask.size(1) > 1 else 0]  # (B|1, T, S)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention as a module: four `nn.Linear` layers around the functional core.

    Equal to `nn.MultiheadAttention(d_model, num_heads, bias=bias, batch_first=True)` given the same
    weights (see `from_torch`), except for the mask convention: here True means "may attend".

    Shape:
        x: (B, T, d_model); mask: (T, T), (B, T, T) or (B|1, h|1, T, T), bool.
        output: out (B, T, d_model) and weights (B, h, T, T), or None when need_weights=False.
    """

    def __init__(self, d_model: int, num_heads: int, bias: bool = True, *, device=None, dtype=None) -> None:
        super().__init__()
        self.d_k = _validate.check_heads(d_model, num_heads)
        self.d_model, self.num_heads = d_model, num_heads
        kw = dict(bias=bias, device=device, dtype=dtype)
        self.q_proj = nn.Linear(d_model, d_model, **kw)
        self.k_proj = nn.Linear(d_model, d_model, **kw)
        self.v_proj = nn.Linear(d_model, d_model, **kw)
        self.out_proj = nn.Linear(d_model, d_model, **kw)

    def forward(self, x: Tensor, mask: Tensor | None = None, need_weights: bool = True) -> tuple[Tensor, Tensor | None]:
        _validate.require_rank("x", x, 3, "(B, T, d_model)")
        if x.size(-1) != self.d_model:
            raise ValueError(f"x must have last size d_model={self.d_model}; got {tuple(x.shape)}")
        B, T, _ = x.shape
        qh = split_heads(self.q_proj(x), self.num_heads)  # (B, h, T, d_k)
        kh = split_heads(self.k_proj(x), self.num_heads)  # (B, h, T, d_k)
        vh = split_heads(self.v_proj(x), self.num_heads)  # (B, h, T, d_k)
        mask = _validate.head_mask(mask, B, self.num_heads, T, T, x.device)
        path = backend.choose_path(qh, need_weights)
        attend = scaled_dot_product_attention if path.name == "explicit" else fused_scaled_dot_product_attention
        z, weights = attend(qh, kh, vh, mask)  # (B, h, T, d_k), (B, h, T, T) or None
        return self.out_proj(merge_heads(z)), weights  # (B, T, d_model)

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> "MultiHeadSelfAttention":
        """A copy of `mha`'s weights and biases in this module's layout (same device and dtype)."""
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"from_torch expects an nn.MultiheadAttention; got {type(mha).__name__}")
        unsupported = []
        if not mha._qkv_same_embed_dim:
            unsupported.append("kdim/vdim different from embed_dim")
        if mha.bias_k is not None or mha.bias_v is not None:
            unsupported.append("add_bias_kv=True")
        if mha.add_zero_attn:
            unsupported.append("add_zero_attn=True")
        if mha.dropout:
            unsupported.append(f"dropout={mha.dropout}")
        if unsupported:
            raise ValueError("cannot copy an nn.MultiheadAttention with " + ", ".join(unsupported)
                             + "; this layer is plain self-attention without those options")
        w = mha.in_proj_weight
        layer = cls(mha.embed_dim, mha.num_heads, bias=mha.in_proj_bias is not None, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            d = mha.embed_dim
            for i, proj in enumerate((layer.q_proj, layer.k_proj, layer.v_proj)):
                proj.weight.copy_(w[i * d:(i + 1) * d])
                if proj.bias is not None:
                    proj.bias.copy_(mha.in_proj_bias[i * d:(i + 1) * d])
            layer.out_proj.weight.copy_(mha.out_proj.weight)
            if layer.out_proj.bias is not None:
                layer.out_proj.bias.copy_(mha.out_proj.bias)
        return layer
