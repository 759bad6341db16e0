"""Where attention runs: the device and the attention path, chosen here and nowhere else (chapter 08).

Two paths compute the same attention:

* **explicit**: scores, mask, softmax, weighted sum, written out in `mhsa_ref.attention`. It is the
  source of truth and the only path that returns the attention weights.
* **fused**: one call to `torch.nn.functional.scaled_dot_product_attention`, which never
  materialises the (T, S) weight matrix. On CUDA the kernel is pinned with
  `torch.nn.attention.sdpa_kernel` so the run uses the kernel we name, not a silent fallback.

`choose_path` and `cuda_kernel` return a `Choice` whose `reason` says why, so a caller (or a
learner) can print why a run fell back to the explicit path or to the math kernel.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel


@dataclass(frozen=True)
class Choice:
    """A decision and the reason for it, e.g. Choice("fused", "weights not requested")."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


# Devices on which F.scaled_dot_product_attention has kernels we trust to agree with the explicit path.
# "meta" computes shapes only, which is what the device-agnosticism tests need.
_FUSED_DEVICES = ("cpu", "cuda", "meta")


def choose_path(q: Tensor, need_weights: bool) -> Choice:
    """Pick "explicit" or "fused" for attention on tensors like `q`, and say why."""
    if need_weights:
        return Choice("explicit", "the attention weights were requested; a fused kernel does not return them")
    if q.device.type not in _FUSED_DEVICES:
        return Choice("explicit", f"no fused kernel is trusted on device type {q.device.type!r}")
    return Choice("fused", f"weights not requested; F.scaled_dot_product_attention on {q.device.type}")


def cuda_kernel(q: Tensor, mask: Tensor | None) -> tuple[SDPBackend, str]:
    """The SDPA kernel to pin on CUDA for queries like `q` (..., T, d_k), with the reason.

    The course's rules, written from the kernels' documented limits: FlashAttention takes fp16/bf16
    without an arbitrary mask and head widths up to 256; the memory-efficient kernel takes float32
    and boolean masks; float64 runs only on the math kernel. Head widths that are not a multiple of
    8 are padded by PyTorch before a fused kernel runs; the course keeps those on the math kernel,
    whose agreement with the explicit path the tests check directly (tests/test_mhsa_ref/test_gpu.py, d_k = 2).
    """
    d_k = q.size(-1)
    if q.dtype == torch.float64:
        return SDPBackend.MATH, "float64 has no fused CUDA kernel, so the math kernel runs"
    if d_k % 8 != 0 or d_k > 256:
        return SDPBackend.MATH, (f"d_k={d_k} is not a multiple of 8 up to 256: the fused kernels would run on a "
                                 f"padded copy, so the course keeps it on the math kernel")
    if q.dtype in (torch.float16, torch.bfloat16) and mask is None:
        return SDPBackend.FLASH_ATTENTION, f"{q.dtype} without a mask: FlashAttention"
    return SDPBackend.EFFICIENT_ATTENTION, f"{q.dtype}{' with a mask' if mask is not None else ''}: memory-efficient kernel"


@contextlib.contextmanager
def pinned_kernel(q: Tensor, mask: Tensor | None) -> Iterator[None]:
    """Pin the SDPA kernel on CUDA (see `cuda_kernel`); elsewhere PyTorch's own choice stands."""
    if q.device.type != "cuda":
        yield
        return
    backend, _ = cuda_kernel(q, mask)
    with sdpa_kernel([backend]):
        yield


def pick_device(prefer: str | None = None) -> Choice:
    """The device to run on: `prefer`, else $MHSA_DEVICE, else CUDA when present, else the CPU."""
    wanted = prefer or os.environ.get("MHSA_DEVICE")
    if wanted:
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            return Choice("cpu", f"{wanted} was asked for but torch.cuda.is_available() is False")
        return Choice(wanted, "asked for explicitly")
    if torch.cuda.is_available():
        return Choice("cuda", f"CUDA is available ({torch.cuda.get_device_name()})")
    return Choice("cpu", "no CUDA device is available")


@contextlib.contextmanager
def small_model_threads() -> Iterator[None]:
    """Run the CPU work of the small word models (chapters 02–03) on one thread, then restore.

    Their tensors are tiny (a 24-wide embedding, 32-unit LSTMs). On an idle 2-core machine a second
    thread saves about a fifth of the time, but as soon as anything else keeps a core busy (a test
    run, a grading kernel, a second notebook) PyTorch's threads wait on each other and training
    the biLM takes three times as long (benchmarks/bench_threads.py, RESULTS.md). The pin trades
    the small gain for the large loss. Chapters 04–08 keep PyTorch's default: their matrices are large.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def machine() -> str:
    """This machine in words, for a stored result: the CPU, its cores, PyTorch and its threads, the GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return (f"{cpu} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} threads{gpu}")


def provenance(command: str) -> dict[str, str]:
    """Where a stored result comes from: the command that makes it again, this machine and today's date."""
    return {"command": command, "machine": machine(), "date": datetime.date.today().isoformat()}
