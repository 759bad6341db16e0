"""mhsa_ref.self_attention: projections, causal masks, self-attention on "I have a dream"."""

import pytest
import torch

import mhsa_ref as m
from conftest import assert_close, rand


def weights(d_model=16, d_k=2, d_v=3, seed=10):
    return rand(d_model, d_k, seed=seed), rand(d_model, d_k, seed=seed + 1), rand(d_model, d_v, seed=seed + 2)


def test_project_qkv_is_x_times_w():
    x = rand(3, 4, 16)
    w_q, w_k, w_v = weights()
    q, k, v = m.project_qkv(x, w_q, w_k, w_v)
    assert (q.shape, k.shape, v.shape) == ((3, 4, 2), (3, 4, 2), (3, 4, 3))
    assert_close(q[1, 2], x[1, 2] @ w_q)
    assert_close(v[2, 3], sum(x[2, 3, i] * w_v[i] for i in range(16)))


def test_causal_mask_is_lower_triangular_on_the_requested_device():
    mask = m.causal_mask(4)
    assert mask.dtype == torch.bool and mask.tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]
    assert m.causal_mask(3, device="meta").device.type == "meta"
    with pytest.raises(ValueError, match="positive int"):
        m.causal_mask(0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_self_attention_is_attention_of_the_projections_and_fused_agrees(dtype):
    x = rand(3, 4, 16, dtype=dtype)
    w = [t.to(dtype) for t in weights()]
    z, a = m.self_attention(x, *w, mask=m.causal_mask(4))
    q, k, v = m.project_qkv(x, *w)
    want_z, want_a = m.scaled_dot_product_attention(q, k, v, m.causal_mask(4))
    assert_close(z, want_z, dtype)
    assert_close(a, want_a, dtype)
    fused, none = m.fused_self_attention(x, *w, mask=m.causal_mask(4))
    assert none is None
    assert_close(fused, z, dtype)


def test_causal_self_attention_does_not_look_ahead():
    x = rand(1, 4, 16)
    w = weights()
    z, _ = m.self_attention(x, *w, mask=m.causal_mask(4))
    x2 = x.clone()
    x2[0, 3] += 10.0  # change the last word ("dream") only
    z2, _ = m.self_attention(x2, *w, mask=m.causal_mask(4))
    assert_close(z2[0, :3], z[0, :3])
    assert not torch.allclose(z2[0, 3], z[0, 3])


def test_bad_projection_shapes_are_explained():
    x = rand(3, 4, 16)
    w_q, w_k, w_v = weights()
    with pytest.raises(ValueError, match=r"is it transposed"):
        m.project_qkv(x, w_q.T.contiguous(), w_k, w_v)
    with pytest.raises(ValueError, match="same output width d_k"):
        m.project_qkv(x, w_q, rand(16, 5), w_v)
    with pytest.raises(ValueError, match=r"3 dimensions \(B, T, d_model\)"):
        m.self_attention(x[0], w_q, w_k, w_v)


def test_causal_padding_mask():
    mask = m.causal_padding_mask(torch.tensor([4, 2, 3]), 4)
    assert mask.shape == (3, 4, 4) and mask.dtype == torch.bool
    assert torch.equal(mask[0], m.causal_mask(4))  # no padding: the causal mask
    assert mask[1].tolist() == [[True, False, False, False]] + [[True, True, False, False]] * 3
    assert bool(mask.any(-1).all())  # key 0 is always a word: no row is empty
