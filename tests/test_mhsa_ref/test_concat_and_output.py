"""mhsa_ref.concat_and_output: merging heads, W^O, and equality with torch.nn.MultiheadAttention."""

import pytest
import torch
from torch import nn

import mhsa_ref as m
from conftest import assert_close, rand, rand_mask

DTYPES = [torch.float64, torch.float32]


def torch_layer(d_model, h, dtype, bias=True, seed=0):
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(d_model, h, bias=bias, batch_first=True, dtype=dtype)
    if bias:  # PyTorch initialises biases to zero, which would hide a bias that is dropped or misplaced
        with torch.no_grad():
            mha.in_proj_bias.normal_()
            mha.out_proj.bias.normal_()
    return mha


def test_the_notes_fail_and_its_two_fixes():
    z = rand(3, 8, 4, 2).transpose(1, 2)  # (B, T, h, d_k), not contiguous
    with pytest.raises(RuntimeError, match="view"):
        z.view(3, -1, 8 * 2)
    assert torch.equal(z.contiguous().view(3, -1, 16), z.reshape(3, -1, 16))
    assert m.merge_heads(rand(3, 8, 4, 2)).shape == (3, 4, 16)


def test_merge_heads_is_head_major_per_token():
    x = rand(2, 3, 4, 5)  # (B, h, T, d_k)
    merged = m.merge_heads(x)
    assert torch.equal(merged[1, 2, 5:10], x[1, 1, 2])  # token 2, head 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_shape", [None, (5, 5), (2, 5, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_module_equals_torch_multihead_attention(dtype, mask_shape, bias):
    d_model, h = 24, 4
    mha = torch_layer(d_model, h, dtype, bias)
    ours = m.MultiHeadSelfAttention.from_torch(mha)
    x = rand(2, 5, d_model, dtype=dtype, seed=7)
    mask = None if mask_shape is None else rand_mask(*mask_shape, seed=8)
    # nn.MultiheadAttention's boolean mask means "may NOT attend", and a 3-D one is (B·h, T, S).
    torch_mask = None if mask is None else ~(mask.repeat_interleave(h, 0) if mask.dim() == 3 else mask)
    want, want_w = mha(x, x, x, attn_mask=torch_mask, average_attn_weights=False)
    got, got_w = ours(x, mask)
    assert_close(got, want, dtype)
    assert_close(got_w, want_w, dtype)
    fused, none = ours(x, mask, need_weights=False)
    assert none is None
    assert_close(fused, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_forms_agree_with_the_module(dtype):
    d_model, h = 16, 8
    layer = m.MultiHeadSelfAttention.from_torch(torch_layer(d_model, h, dtype, bias=False))
    w = [p.weight.T for p in (layer.q_proj, layer.k_proj, layer.v_proj, layer.out_proj)]
    x, mask = rand(3, 4, d_model, dtype=dtype), rand_mask(3, 8, 4, 4, seed=1)
    want, want_w = layer(x, mask)
    for fn in (m.multi_head_self_attention, m.multi_head_self_attention_loop, m.fused_multi_head_self_attention):
        got, got_w = fn(x, *w, h, mask)
        assert_close(got, want, dtype)
        if got_w is not None:
            assert_close(got_w, want_w, dtype)


def test_loop_over_heads_with_shared_and_per_head_masks():
    x, w = rand(2, 4, 12), [rand(12, 12, seed=i) for i in range(4)]
    for mask in (None, m.causal_mask(4), rand_mask(2, 1, 4, 4, seed=5), rand_mask(2, 3, 4, 4, seed=6)):
        batched, bw = m.multi_head_self_attention(x, *w, 3, mask)
        looped, lw = m.multi_head_self_attention_loop(x, *w, 3, mask)
        assert_close(looped, batched)
        assert_close(lw, bw)


def test_from_torch_refuses_what_it_cannot_copy():
    with pytest.raises(ValueError, match="add_bias_kv"):
        m.MultiHeadSelfAttention.from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True))
    with pytest.raises(ValueError, match="kdim/vdim"):
        m.MultiHeadSelfAttention.from_torch(nn.MultiheadAttention(8, 2, kdim=4, vdim=4))
    with pytest.raises(TypeError, match="nn.MultiheadAttention"):
        m.MultiHeadSelfAttention.from_torch(nn.Linear(8, 8))


def test_layer_errors_name_the_problem():
    with pytest.raises(ValueError, match="cannot be split"):
        m.MultiHeadSelfAttention(10, 3)
    layer = m.MultiHeadSelfAttention(8, 2)
    with pytest.raises(ValueError, match="d_model=8"):
        layer(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"\(8, 8\)"):
        m.multi_head_self_attention(rand(2, 3, 8), rand(8, 8), rand(8, 8), rand(8, 8), rand(8, 4), 2)


def test_head_contributions_add_up_to_the_output_projection():
    z, w_o = rand(2, 8, 5, 7), rand(56, 10)
    parts = m.head_contributions(z, w_o)
    assert parts.shape == (2, 8, 5, 10)
    assert_close(parts.sum(1), m.merge_heads(z) @ w_o)
    assert_close(parts[:, 3], z[:, 3] @ w_o[21:28])  # head 3 meets rows 3·7 … 4·7 − 1
