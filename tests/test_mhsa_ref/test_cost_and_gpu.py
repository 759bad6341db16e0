"""mhsa_ref.cost_and_gpu: the FLOP formula checked against PyTorch's own FLOP counter."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import mhsa_ref as m
from conftest import rand


@pytest.mark.parametrize("B, T, d_model, h", [(3, 4, 16, 8), (2, 7, 12, 3), (1, 1, 5, 1)])
def test_flops_formula_equals_what_pytorch_counts(B, T, d_model, h):
    x, w = rand(B, T, d_model), [rand(d_model, d_model, seed=i) for i in range(4)]
    with FlopCounterMode(display=False) as counter:
        m.multi_head_self_attention(x, *w, h)
    assert m.attention_flops(B, T, d_model, h) == counter.get_total_flops()
    assert m.attention_flops(B, T, d_model, h) == 8 * B * T * d_model**2 + 4 * B * T**2 * d_model


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_score_bytes_equal_the_materialised_weights(dtype):
    x, w = rand(2, 5, 12, dtype=dtype), [rand(12, 12, seed=i, dtype=dtype) for i in range(4)]
    _, weights = m.multi_head_self_attention(x, *w, 3)
    assert m.attention_score_bytes(2, 5, 3, dtype) == weights.numel() * weights.element_size()


def test_the_notes_video_example_is_large():
    """5120-wide vectors, 80 heads: the score matrix alone for T=4096 is 5 GiB in float32."""
    assert m.attention_score_bytes(1, 4096, 80, torch.float32) == 80 * 4096 * 4096 * 4
    assert m.attention_flops(1, 4096, 5120, 80) > 100 * m.attention_flops(1, 4096, 512, 8) / 10


def test_achieved_tflops():
    assert m.achieved_tflops(2 * 10**12, 0.5) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="positive"):
        m.achieved_tflops(1, 0.0)


@pytest.mark.parametrize("args", [(0, 4, 16, 8), (2, 4, 16, 3), (2, 4.0, 16, 8), (2, True, 16, 8)])
def test_flops_bad_sizes(args):
    with pytest.raises(ValueError):
        m.attention_flops(*args)


def test_score_bytes_bad_dtype():
    with pytest.raises(TypeError, match="torch.dtype"):
        m.attention_score_bytes(1, 2, 3, "float32")


# --- tiled_attention: FlashAttention's online softmax, block by block ----------------------------------


@pytest.mark.parametrize("block_size", [1, 3, 4, 6, 50])  # 3 does not divide S=6; 50 is one block
def test_tiled_attention_equals_the_explicit_path(block_size):
    from mhsa_ref.cost_and_gpu import tiled_attention

    q, k, v = rand(2, 3, 5, 4, dtype=torch.float64), rand(2, 3, 6, 4, seed=1, dtype=torch.float64), \
        rand(2, 3, 6, 7, seed=2, dtype=torch.float64)
    out, maxima, sums = tiled_attention(q * 4, k * 4, v, block_size)  # large scores: the rescaling matters
    want, weights = m.scaled_dot_product_attention(q * 4, k * 4, v)
    torch.testing.assert_close(out, want)
    blocks = -(-6 // block_size)
    assert maxima.shape == sums.shape == (2, 3, 5, blocks)
    scores = (q * 4) @ (k * 4).transpose(-2, -1) / 2  # (2, 3, 5, 6), √d_k = 2
    for j in range(blocks):  # the state after block j is that of the keys seen so far
        seen = scores[..., :(j + 1) * block_size]
        torch.testing.assert_close(maxima[..., j], seen.amax(-1))
        torch.testing.assert_close(sums[..., j], torch.exp(seen - seen.amax(-1, keepdim=True)).sum(-1))
    assert bool((maxima.diff(dim=-1) >= 0).all())  # the running maximum never falls


def test_tiled_attention_bad_input():
    from mhsa_ref.cost_and_gpu import tiled_attention

    with pytest.raises(ValueError, match="block_size must be a positive int"):
        tiled_attention(rand(2, 4), rand(3, 4), rand(3, 5), 0)
    with pytest.raises(ValueError, match="do not fit"):
        tiled_attention(rand(2, 4), rand(3, 5), rand(3, 5), 2)


@pytest.mark.parametrize("B, h, T, dtype", [(1, 80, 22360, torch.bfloat16), (3, 8, 1000, torch.float32), (2, 1, 1, torch.float64)])
def test_longest_sequence_is_the_largest_that_fits(B, h, T, dtype):
    exact = m.attention_score_bytes(B, T, h, dtype)
    assert m.longest_sequence(exact, B, h, dtype) == T
    assert m.longest_sequence(exact - 1, B, h, dtype) == T - 1
    assert m.longest_sequence(exact + 1, B, h, dtype) == T
