"""mhsa_ref.backend: the one place that picks the device, the path and the CUDA kernel, with reasons."""

import pytest
import torch
from torch.nn.attention import SDPBackend

import mhsa_ref as m
from mhsa_ref.backend import small_model_threads


def test_path_is_explicit_when_weights_are_needed_and_fused_otherwise():
    q = torch.empty(2, 3, 4, 8)
    explicit = m.choose_path(q, need_weights=True)
    assert explicit.name == "explicit" and "weights were requested" in explicit.reason
    assert m.choose_path(q, need_weights=False).name == "fused"
    assert "explicit (" in str(explicit)


def test_path_falls_back_on_an_untrusted_device():
    q = torch.empty(2, 3, 4, 8, device="meta")
    assert m.choose_path(q, need_weights=False).name == "fused"  # meta: shapes only, trusted


@pytest.mark.parametrize(
    "dtype, d_k, masked, kernel, why",
    [
        (torch.float64, 64, False, SDPBackend.MATH, "float64"),
        (torch.float32, 2, False, SDPBackend.MATH, "d_k=2"),
        (torch.bfloat16, 300, False, SDPBackend.MATH, "d_k=300"),
        (torch.bfloat16, 64, False, SDPBackend.FLASH_ATTENTION, "FlashAttention"),
        (torch.float16, 64, True, SDPBackend.EFFICIENT_ATTENTION, "with a mask"),
        (torch.float32, 64, False, SDPBackend.EFFICIENT_ATTENTION, "memory-efficient"),
    ],
)
def test_cuda_kernel_rules(dtype, d_k, masked, kernel, why):
    q = torch.empty(2, 8, 16, d_k, dtype=dtype, device="meta")
    mask = torch.empty(16, 16, dtype=torch.bool, device="meta") if masked else None
    got, reason = m.cuda_kernel(q, mask)
    assert got == kernel and why in reason


def test_pick_device(monkeypatch):
    monkeypatch.delenv("MHSA_DEVICE", raising=False)
    choice = m.pick_device()
    assert choice.name == ("cuda" if torch.cuda.is_available() else "cpu")
    assert m.pick_device("cpu").name == "cpu"
    monkeypatch.setenv("MHSA_DEVICE", "meta")
    assert m.pick_device().name == "meta"
    if not torch.cuda.is_available():
        fallback = m.pick_device("cuda:0")
        assert fallback.name == "cpu" and "is_available() is False" in fallback.reason


def test_small_model_threads_uses_one_thread_and_restores_the_count():
    outside = torch.get_num_threads()
    torch.set_num_threads(2)  # a count other than 1 to restore (make test runs each process on one thread)
    before = torch.get_num_threads()
    with small_model_threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with small_model_threads():
            raise RuntimeError("a failing training run")
    assert torch.get_num_threads() == before
    torch.set_num_threads(outside)
