"""The same comparisons on CUDA: float32 with TF32 off, and bf16 with PyTorch's attention tolerances.

Marked `gpu`: skipped cleanly without CUDA (see conftest.py). Run on a GPU machine with
`PYTHONPATH=. python3 -m pytest -m gpu`.
"""

import pytest
import torch
from torch import nn

import mhsa_ref as m
from conftest import rand, rand_mask
from mhsa_ref.checks import attention as check
from mhsa_ref.checks._core import TOLERANCE
from mutants import attention as mutants

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def strict_float32():
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def tolerance(low: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    """PyTorch's rule: the default tolerance, or the error of the explicit path in the same dtype if larger."""
    atol, rtol = TOLERANCE[low.dtype]
    err = (low.double() - ref).abs()
    return max(atol, 2 * err.max().item()), max(rtol, 2 * (err / ref.abs().clamp_min(1e-6)).max().item())


@pytest.mark.parametrize("d_k", [2, 64])
@pytest.mark.parametrize("masked", [False, True])
def test_float32_explicit_and_fused_match_cpu_float64(d_k, masked):
    q, k, v = (rand(2, 8, 128, d_k, seed=i) for i in range(3))
    mask = rand_mask(2, 1, 128, 128, seed=3) if masked else None
    ref_out, ref_w = m.scaled_dot_product_attention(q, k, v, mask)
    cq, ck, cv = (t.float().cuda() for t in (q, k, v))
    cmask = None if mask is None else mask.cuda()
    out, w = m.scaled_dot_product_attention(cq, ck, cv, cmask)
    fused, _ = m.fused_scaled_dot_product_attention(cq, ck, cv, cmask)
    assert out.device.type == "cuda" and fused.device.type == "cuda"
    for got, want in ((out, ref_out), (w, ref_w), (fused, ref_out)):
        torch.testing.assert_close(got.double().cpu(), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("masked", [False, True])
def test_bf16_fused_kernels_within_pytorch_tolerances(masked):
    q, k, v = (rand(4, 8, 256, 64, seed=i) for i in range(3))
    mask = rand_mask(4, 1, 256, 256, seed=3) if masked else None
    ref, _ = m.scaled_dot_product_attention(q, k, v, mask)
    bq, bk, bv = (t.to("cuda", torch.bfloat16) for t in (q, k, v))
    bmask = None if mask is None else mask.cuda()
    explicit, _ = m.scaled_dot_product_attention(bq, bk, bv, bmask)
    fused, _ = m.fused_scaled_dot_product_attention(bq, bk, bv, bmask)
    atol, rtol = tolerance(explicit.cpu(), ref)
    torch.testing.assert_close(fused.double().cpu(), ref, atol=atol, rtol=rtol)
    kernel, _ = m.cuda_kernel(bq, bmask)
    assert kernel.name == ("EFFICIENT_ATTENTION" if masked else "FLASH_ATTENTION")


def test_fully_masked_rows_are_zero_on_every_cuda_kernel():
    for dtype in (torch.float32, torch.bfloat16, torch.float64):
        q, k, v = (rand(2, 4, 32, 64, seed=i).to("cuda", dtype) for i in range(3))
        mask = rand_mask(2, 4, 32, 32, seed=4).cuda()
        mask[0, 1, 5] = False
        fused, _ = m.fused_scaled_dot_product_attention(q, k, v, mask)
        explicit, w = m.scaled_dot_product_attention(q, k, v, mask)
        assert not fused.isnan().any() and not explicit.isnan().any()
        assert (fused[0, 1, 5] == 0).all() and (w[0, 1, 5] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_module_equals_torch_on_cuda(dtype):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(256, 8, batch_first=True, device="cuda", dtype=dtype)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    ours = m.MultiHeadSelfAttention.from_torch(mha)
    x = torch.randn(4, 64, 256, device="cuda", dtype=dtype)
    mask = rand_mask(64, 64, seed=1).cuda()
    want, _ = mha(x, x, x, attn_mask=~mask, need_weights=False)
    got, _ = ours(x, mask, need_weights=False)
    atol, rtol = (1e-5, 1e-5) if dtype == torch.float32 else (2e-2, 1.6e-2)
    torch.testing.assert_close(got, want, atol=atol, rtol=rtol)


def test_exercise_checks_pass_a_correct_answer_on_cuda_and_catch_a_cpu_tensor(capsys):
    """The graders' CUDA branch runs here: a correct answer passes it, a CPU-bound one fails it."""
    check.softmax_devices(mutants.softmax)
    check.sdpa_devices(mutants.scaled_dot_product_attention)
    assert capsys.readouterr().out.count("also on") == 2
    with pytest.raises(AssertionError, match="fixed device"):
        check.softmax_devices(mutants.softmax_cpu_constant)


def test_multi_head_checks_run_their_cuda_branch(capsys):
    """Exercises 06–08: a correct answer passes every CUDA run; the bf16 and float32 runs compare with the fused path."""
    from mhsa_ref.checks import concat_and_output as c7, cost_and_gpu as c8, split_heads as c6
    from mutants import concat_and_output as m7, cost_and_gpu as m8, split_heads as m6

    c6.split_devices(m6.split_heads)
    c6.weights_devices(m6.multi_head_attention_weights)
    c7.merge_devices(m7.merge_heads)
    c7.layer_devices(m7.multi_head_self_attention)
    c7.module_options_and_devices(m7.MultiHeadSelfAttention)
    c8.layer_gpu_path(m8.multi_head_self_attention)
    out = capsys.readouterr().out
    assert out.count("also on") == 6
    assert "float32 on cuda, bfloat16 on cuda" in out


def test_layer_benchmark_records_cuda_rows(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "benchmarks/bench_layer.py", "--smoke", "--out", str(tmp_path)], cwd=root,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    recorded = json.loads((tmp_path / "layer_cuda.json").read_text())
    assert set(recorded["peak_tflops"]) == {"float32", "bfloat16"}
    assert all(r["peak_memory_bytes"] > 0 for r in recorded["rows"] if not r["error"])
