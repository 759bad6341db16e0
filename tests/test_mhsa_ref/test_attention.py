"""mhsa_ref.attention: softmax and scaled dot-product attention, explicit vs fused vs PyTorch."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import mhsa_ref as m
from conftest import assert_close, rand, rand_mask

DTYPES = [torch.float64, torch.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [-1, 0, 1, 2])
def test_softmax_matches_torch(dtype, dim):
    x = rand(2, 3, 5, 7, dtype=dtype)
    assert_close(m.softmax(x, dim), torch.softmax(x, dim))


def test_softmax_is_finite_for_huge_scores():
    x = rand(4, 9, dtype=torch.float32) * 1e4
    out = m.softmax(x)
    assert torch.isfinite(out).all()
    assert_close(out, torch.softmax(x, -1))


def test_softmax_all_minus_inf_row_gives_zeros_and_others_untouched():
    x = rand(3, 5)
    x[1] = float("-inf")
    x[2, 0] = float("-inf")
    out = m.softmax(x)
    assert torch.equal(out[1], torch.zeros(5, dtype=x.dtype))
    assert out[2, 0] == 0
    assert_close(out[[0, 2]], torch.softmax(x[[0, 2]], -1))


def naive_attention(q, k, v, mask=None):
    """Independent per-query loop: the definition, written as plainly as possible."""
    out = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    weights = torch.zeros(*q.shape[:-1], k.shape[-2], dtype=q.dtype)
    for idx in itertools.product(*(range(n) for n in q.shape[:-1])):
        *lead, t = idx
        scores = (k[tuple(lead)] @ q[idx]) / math.sqrt(q.shape[-1])
        allowed = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask.expand(*q.shape[:-1], k.shape[-2])[idx]
        if allowed.any():
            w = torch.softmax(scores.masked_fill(~allowed, float("-inf")), -1)
            weights[idx] = w
            out[idx] = w @ v[tuple(lead)]
    return out, weights


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_shape", [None, (5, 6), (2, 1, 5, 6), (2, 3, 5, 6)])
def test_explicit_equals_definition_and_fused(dtype, mask_shape):
    q, k, v = rand(2, 3, 5, 7, dtype=dtype, seed=1), rand(2, 3, 6, 7, dtype=dtype, seed=2), rand(2, 3, 6, 4, dtype=dtype, seed=3)
    mask = None if mask_shape is None else rand_mask(*mask_shape, seed=4)
    out, weights = m.scaled_dot_product_attention(q, k, v, mask)
    want_out, want_w = naive_attention(q.double(), k.double(), v.double(), mask)
    assert_close(out, want_out.to(dtype), dtype)
    assert_close(weights, want_w.to(dtype), dtype)
    fused, none = m.fused_scaled_dot_product_attention(q, k, v, mask)
    assert none is None
    assert_close(fused, out, dtype)
    assert_close(fused, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fully_masked_rows_give_zeros_on_both_paths(dtype):
    q, k, v = rand(2, 4, 3, dtype=dtype), rand(2, 5, 3, dtype=dtype, seed=1), rand(2, 5, 2, dtype=dtype, seed=2)
    mask = rand_mask(2, 4, 5, seed=3)
    mask[0, 2] = False
    mask[1, 0] = False
    out, weights = m.scaled_dot_product_attention(q, k, v, mask)
    fused, _ = m.fused_scaled_dot_product_attention(q, k, v, mask)
    for t in (out, weights, fused):
        assert not t.isnan().any()
    assert torch.equal(weights[0, 2], torch.zeros(5, dtype=dtype)) and torch.equal(out[1, 0], torch.zeros(2, dtype=dtype))
    assert torch.equal(fused[0, 2], torch.zeros(2, dtype=dtype)) and torch.equal(fused[1, 0], torch.zeros(2, dtype=dtype))
    assert_close(fused, out, dtype)


sizes = st.integers(min_value=1, max_value=6)


@settings(max_examples=40, deadline=None)
@given(b=sizes, t=sizes, s=sizes, d_k=sizes, d_v=sizes, seed=st.integers(0, 2**16), masked=st.booleans())
def test_properties_rows_sum_to_one_and_masked_keys_get_nothing(b, t, s, d_k, d_v, seed, masked):
    q, k, v = rand(b, t, d_k, seed=seed), rand(b, s, d_k, seed=seed + 1), rand(b, s, d_v, seed=seed + 2)
    mask = rand_mask(b, t, s, seed=seed + 3) if masked else None
    out, weights = m.scaled_dot_product_attention(q, k, v, mask)
    assert out.shape == (b, t, d_v) and weights.shape == (b, t, s)
    assert_close(weights.sum(-1), torch.ones(b, t, dtype=q.dtype))
    assert (weights >= 0).all()
    if mask is not None:
        assert (weights[~mask] == 0).all()


@settings(max_examples=30, deadline=None)
@given(t=sizes, s=sizes, seed=st.integers(0, 2**16))
def test_properties_permutation_equivariance(t, s, seed):
    """Permuting keys with their values changes nothing; permuting queries permutes the output."""
    q, k, v = rand(2, t, 3, seed=seed), rand(2, s, 3, seed=seed + 1), rand(2, s, 4, seed=seed + 2)
    mask = rand_mask(2, t, s, seed=seed + 3)
    out, weights = m.scaled_dot_product_attention(q, k, v, mask)
    g = torch.Generator().manual_seed(seed)
    ps, pt = torch.randperm(s, generator=g), torch.randperm(t, generator=g)
    out_k, weights_k = m.scaled_dot_product_attention(q, k[:, ps], v[:, ps], mask[..., ps])
    assert_close(out_k, out)
    assert_close(weights_k, weights[..., ps])
    out_q, _ = m.scaled_dot_product_attention(q[:, pt], k, v, mask[:, pt])
    assert_close(out_q, out[:, pt])


@pytest.mark.parametrize(
    "args, message",
    [
        ((rand(2, 4, 3), rand(2, 5, 2), rand(2, 5, 2)), "same last size d_k"),
        ((rand(2, 4, 3), rand(2, 5, 3), rand(2, 6, 2)), "same number of positions S"),
        ((rand(2, 4, 3), rand(3, 5, 3), rand(3, 5, 2)), "same leading"),
        ((rand(4), rand(5, 4), rand(5, 2)), "at least 2 dimensions"),
        ((rand(2, 4, 3), rand(2, 5, 3, dtype=torch.float32), rand(2, 5, 2)), "share dtype and device"),
        ((rand(2, 4, 3), rand(2, 5, 3), rand(2, 5, 2), torch.ones(4, 5)), "must be a bool tensor"),
        ((rand(2, 4, 3), rand(2, 5, 3), rand(2, 5, 2), torch.ones(4, 3, dtype=torch.bool)), "does not broadcast"),
        ((torch.ones(2, 4, 3, dtype=torch.long), rand(2, 5, 3), rand(2, 5, 2)), "floating-point"),
    ],
)
@pytest.mark.parametrize("fn", [m.scaled_dot_product_attention, m.fused_scaled_dot_product_attention])
def test_bad_input_says_what_was_expected(fn, args, message):
    with pytest.raises(ValueError, match=message):
        fn(*args)


def test_attention_entropy_bounds():
    uniform = torch.full((2, 3, 8), 1 / 8, dtype=torch.float64)
    assert_close(m.attention_entropy(uniform), torch.full((2, 3), math.log(8), dtype=torch.float64))
    assert torch.equal(m.attention_entropy(torch.eye(4)), torch.zeros(4))  # one key each
    assert torch.equal(m.attention_entropy(torch.zeros(2, 5)), torch.zeros(2))  # nothing to attend to: 0, not NaN
    w = m.attention_weights(rand(2, 4, 3), rand(2, 6, 3), rand_mask(2, 4, 6))
    h = m.attention_entropy(w)
    assert h.shape == (2, 4) and bool((h >= 0).all()) and bool((h <= math.log(6) + 1e-12).all())
