"""Shared test setup: the gpu marker skips cleanly without CUDA; helpers for random inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"

# Tolerances of the course for comparisons between implementations: (atol, rtol).
TOL = {torch.float64: (1e-10, 1e-10), torch.float32: (1e-5, 1e-5)}


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def assert_close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype | None = None) -> None:
    atol, rtol = TOL[dtype or a.dtype]
    torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


def rand(*shape: int, dtype=torch.float64, device="cpu", seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def rand_mask(*shape: int, seed: int = 0, device="cpu") -> torch.Tensor:
    """A random bool mask (True = may attend) in which every row keeps at least one key."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(*shape, generator=g) < 0.5
    mask[..., 0] |= ~mask.any(-1)
    return mask.to(device)


def tool_env() -> dict[str, str]:
    """The environment for running the course's tools (nbgrader needs its venv first on PATH)."""
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # a clean make, even when pytest runs under make
        env.pop(var, None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


@pytest.fixture(scope="session")
def made():
    """Run the README's first command, `make`, once for the session (it builds in the repo itself)."""
    import subprocess

    result = subprocess.run(["make"], cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"make failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    return result
