"""mhsa_ref.split_heads: h subspaces of width d_k, and each head's attention weights."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import mhsa_ref as m
from conftest import assert_close, rand, rand_mask


def test_the_notes_shapes():
    """B=3, T=4 ("I have a dream"), d_model=16, h=8: Q of shape [3, 8, 4, 2]."""
    x = rand(3, 4, 16)
    heads = m.split_heads(x, 8)
    assert heads.shape == (3, 8, 4, 2)
    assert heads.data_ptr() == x.data_ptr()  # a view, no copy
    for i in range(8):
        assert torch.equal(heads[:, i], x[..., 2 * i:2 * i + 2])  # head i owns columns 2i, 2i+1


@pytest.mark.parametrize("d_model, h", [(16, 5), (10, 4), (7, 2)])
def test_indivisible_width_is_a_clear_error(d_model, h):
    with pytest.raises(ValueError, match=rf"d_model={d_model} cannot be split into num_heads={h}"):
        m.split_heads(rand(2, 3, d_model), h)


def test_multi_head_weights_scale_by_the_head_width():
    q, k = rand(2, 3, 14, seed=1), rand(2, 3, 14, seed=2)
    got = m.multi_head_attention_weights(q, k, num_heads=2)
    assert got.shape == (2, 2, 3, 3)
    for i in range(2):
        qi, ki = q[..., 7 * i:7 * i + 7], k[..., 7 * i:7 * i + 7]
        assert_close(got[:, i], torch.softmax(qi @ ki.transpose(-2, -1) / math.sqrt(7), -1))
    wrong = torch.softmax(q[..., :7] @ k[..., :7].transpose(-2, -1) / math.sqrt(14), -1)
    assert not torch.allclose(got[:, 0], wrong)


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (2, 1, 3, 3), (2, 2, 3, 3), (1, 2, 3, 3)])
def test_masks_of_every_accepted_rank(shape):
    q, k = rand(2, 3, 8, seed=1), rand(2, 3, 8, seed=2)
    mask = rand_mask(*shape, seed=3)
    got = m.multi_head_attention_weights(q, k, 2, mask)
    full = mask.unsqueeze(1) if mask.dim() == 3 else mask
    full = full.expand(2, 2, 3, 3)
    assert (got[~full] == 0).all()
    assert_close(got.sum(-1), torch.ones(2, 2, 3, dtype=q.dtype))


def test_bad_mask_rank_is_explained():
    with pytest.raises(ValueError, match=r"\(T, S\), \(B, T, S\) or \(B, h, T, S\)"):
        m.multi_head_attention_weights(rand(2, 3, 8), rand(2, 3, 8), 2, torch.ones(3, dtype=torch.bool))


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 4), t=st.integers(1, 5), h=st.integers(1, 6), d_k=st.integers(1, 5))
def test_merge_undoes_split(b, t, h, d_k):
    x = rand(b, t, h * d_k, seed=b * 100 + t)
    assert torch.equal(m.merge_heads(m.split_heads(x, h)), x)


def test_head_norms_share_out_the_length():
    x = rand(3, 4, 16)
    norms = m.head_norms(x, 8)
    assert norms.shape == (3, 8, 4)
    assert_close((norms ** 2).sum(1), (x ** 2).sum(-1))  # Pythagoras: the heads' squares add up
    assert_close(m.head_norms(x, 1)[:, 0], x.norm(dim=-1))
