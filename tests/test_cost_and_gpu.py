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
