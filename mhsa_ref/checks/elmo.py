"""Named checks for exercise 03_elmo: one function per graded cell of the notebook.

Visible checks use a batch of two sentences and three layers of (B=2, T=4, D=6) vectors; hidden
ones add one- and two-token sentences, inputs that must stay untouched, layers with more or fewer
dimensions, gradients to s and γ, float64, `meta` tensors, and CUDA when present.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from mhsa_ref import elmo as ref
from mhsa_ref.checks._core import CheckFailure, call, expect_close, expect_results, expect_exact, expect_tensor, on_cuda, passed, randn

__all__ = [
    "targets_values",
    "targets_edge_cases",
    "mix_values",
    "mix_shapes_and_dtypes",
    "mix_gradients",
    "mix_devices",
]

IGNORE = ref.IGNORE

# ---------------------------------------------------------------------------------------------
# bidirectional_targets


def _targets_suspects(ids: Tensor, part: int) -> dict[str, Callable[[], Tensor]]:
    fwd, bwd = ref.bidirectional_targets(ids)
    other = bwd if part == 0 else fwd
    filled = lambda t, v: torch.where(t == IGNORE, torch.full_like(t, v), t)
    name = "forward" if part == 0 else "backward"
    return {
        "forward and backward are swapped: the forward model reads left to right, so its target at t is "
        "ids[t+1] (the next word); the backward target is ids[t−1].": lambda: other,
        f"positions without a {name} target hold 0, which is a real word index; use −100, the ignore_index "
        "of F.cross_entropy.": lambda: filled((fwd, bwd)[part], 0),
        f"positions without a {name} target hold −1; use −100, the ignore_index of F.cross_entropy.":
            lambda: filled((fwd, bwd)[part], -1),
        "the targets wrap around the sentence (torch.roll); the first and last positions have no neighbour "
        "on one side, so they get −100.": lambda: ids.roll(-1 if part == 0 else 1, dims=1),
        "the target at t is ids[t] itself; the forward target is the next word, the backward target the previous.":
            lambda: ids.clone(),
    }


def _expect_targets(bidirectional_targets: Callable, ids: Tensor) -> None:
    context = f"for ids {ids.tolist() if ids.numel() <= 12 else tuple(ids.shape)} of shape {tuple(ids.shape)}"
    original = ids.clone()
    got = call(bidirectional_targets, ids, name="bidirectional_targets", context=context)
    if not torch.equal(ids, original):
        raise CheckFailure(f"bidirectional_targets changed ids in place {context}. Build new tensors (e.g. "
                           f"torch.full_like(ids, -100)) and fill them; slicing ids gives views that share its memory.")
    got = expect_results(got, ("fwd", "bwd"), name="bidirectional_targets", context=context)
    for part, (what, tensor) in enumerate(zip(("forward targets", "backward targets"), got)):
        want = ref.bidirectional_targets(ids)[part]
        expect_exact(tensor, want, what=what, context=context, suspects=_targets_suspects(ids, part))


def targets_values(bidirectional_targets: Callable) -> None:
    """Visible: two sentences of five ids, (B=2, T=5)."""
    _expect_targets(bidirectional_targets, torch.tensor([[0, 5, 6, 7, 1], [0, 9, 3, 4, 1]]))
    passed("targets_values", "next word forward, previous word backward, −100 at the ends")


def targets_edge_cases(bidirectional_targets: Callable) -> None:
    """Hidden: one- and two-token sentences (T=1, T=2), B=1, a long batch; meta and CUDA."""
    _expect_targets(bidirectional_targets, torch.tensor([[4], [2], [8]]))
    _expect_targets(bidirectional_targets, torch.tensor([[4, 2]]))
    g = torch.Generator().manual_seed(11)
    _expect_targets(bidirectional_targets, torch.randint(0, 100, (6, 13), generator=g))
    ids = torch.empty((3, 7), dtype=torch.long, device="meta")
    context = "for ids on the meta device, which has shapes but no values"
    got = call(bidirectional_targets, ids, name="bidirectional_targets", context=context)
    got = expect_results(got, ("fwd", "bwd"), name="bidirectional_targets", context=context)
    for part, what in enumerate(("forward targets", "backward targets")):
        expect_tensor(got[part], ref.bidirectional_targets(ids)[part], what=what, context=context)

    def cuda_run() -> None:
        _expect_targets(bidirectional_targets, torch.randint(0, 100, (4, 6), generator=g).cuda())

    passed("targets_edge_cases", f"T=1 and T=2, ids left untouched, meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# scalar_mix


def _mix_suspects(layers: Tensor, s: Tensor, gamma) -> dict[str, Callable[[], Tensor]]:
    shape = (-1, *([1] * (layers.dim() - 1)))
    mixed = lambda w: (w.view(shape) * layers).sum(0)
    suspects = {
        "the layer weights are s itself; turn the scores into weights with softmax(s) (they must be positive "
        "and sum to 1).": lambda: gamma * mixed(s),
        "the weights are s / s.sum(); ELMo's weights are softmax(s).": lambda: gamma * mixed(s / s.sum()),
        "γ is missing: the mix is γ · Σ_j softmax(s)_j h_j.": lambda: mixed(torch.softmax(s, 0)),
        "the layers are averaged with equal weights; weight layer j by softmax(s)_j.": lambda: gamma * layers.mean(0),
        "γ went inside the softmax (softmax(γ s)); it multiplies the mix outside: γ · Σ_j softmax(s)_j h_j.":
            lambda: mixed(torch.softmax(gamma * s, 0)),
    }
    return suspects


def _expect_mix(scalar_mix: Callable, layers: Tensor, s: Tensor, gamma) -> None:
    g_text = f"{float(gamma):g}" if not isinstance(gamma, Tensor) or gamma.device.type != "meta" else "a 0-d tensor"
    context = f"for layers {tuple(layers.shape)} ({str(layers.dtype)[6:]}), s {tuple(s.shape)}, gamma={g_text}"
    got = call(scalar_mix, layers, s, gamma, name="scalar_mix", context=context)
    want = ref.scalar_mix(layers, s, gamma)
    if isinstance(got, Tensor) and got.shape != want.shape and layers.dim() != 4:
        raise CheckFailure(f"Wrong shape for the mix {context}: got {tuple(got.shape)}, expected {tuple(want.shape)}.\n"
                           f"  Likely cause: the weights were reshaped for 4-D layers only (e.g. view(-1, 1, 1, 1)). "
                           f"Layers can have any number of dimensions: view the weights as (L, 1, ..., 1) with "
                           f"layers.dim() - 1 ones, or use torch.tensordot.")
    expect_close(got, want, what="the mix", context=context,
                 suspects=_mix_suspects(layers, s, gamma))


def mix_values(scalar_mix: Callable) -> None:
    """Visible: L=3 layers of (B=2, T=4, D=6) vectors, γ = 1.5, and equal scores s = 0."""
    layers = randn((3, 2, 4, 6), seed=130)
    _expect_mix(scalar_mix, layers, torch.tensor([0.5, -1.0, 2.0]), 1.5)
    _expect_mix(scalar_mix, layers, torch.zeros(3), 2.0)
    passed("mix_values", "γ · Σ_j softmax(s)_j h_j for L=3 layers of (2, 4, 6)")


def mix_shapes_and_dtypes(scalar_mix: Callable) -> None:
    """Hidden: layers (L=2, D=5) and (L=4, 2, 3, 5, 7), γ as a float and as a 0-d tensor, float64."""
    for dtype in (torch.float32, torch.float64):
        _expect_mix(scalar_mix, randn((2, 5), seed=140, dtype=dtype), randn((2,), seed=141, dtype=dtype), 0.7)
        _expect_mix(scalar_mix, randn((4, 2, 3, 5, 7), seed=142, dtype=dtype), randn((4,), seed=143, dtype=dtype),
                    torch.tensor(1.3, dtype=dtype))
        _expect_mix(scalar_mix, randn((1, 3, 4), seed=144, dtype=dtype), randn((1,), seed=145, dtype=dtype), 2.0)
    passed("mix_shapes_and_dtypes", "2-D to 5-D layers, L = 1, 2, 4, γ float or tensor, float32 and float64")


def mix_gradients(scalar_mix: Callable) -> None:
    """Hidden: s and γ are learned, so the mix must pass gradients to both."""
    layers = randn((3, 2, 4, 6), seed=150, dtype=torch.float64)
    s = randn((3,), seed=151, dtype=torch.float64).requires_grad_()
    gamma = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    context = "with s and gamma that require gradients (they are learned)"
    got = call(scalar_mix, layers, s, gamma, name="scalar_mix", context=context)
    if not isinstance(got, Tensor) or not got.requires_grad:
        raise CheckFailure(f"scalar_mix gives no gradient to s or γ {context}, so neither could be learned.\n"
                           f"  Likely cause: .item(), float(...), .detach() or torch.tensor(...) on s or gamma.")
    weights = torch.linspace(-1, 1, got.numel(), dtype=got.dtype).view_as(got)
    (got * weights).sum().backward()
    s_ref, gamma_ref = s.detach().clone().requires_grad_(), gamma.detach().clone().requires_grad_()
    (ref.scalar_mix(layers, s_ref, gamma_ref) * weights).sum().backward()
    for name, mine, want in (("s", s.grad, s_ref.grad), ("gamma", gamma.grad, gamma_ref.grad)):
        if mine is None:
            raise CheckFailure(f"scalar_mix gives no gradient to {name} {context}.\n"
                               f"  Likely cause: {name} was turned into a Python number or detached.")
        expect_close(mine, want, what=f"the gradient of the mix with respect to {name}", context=context)
    passed("mix_gradients", "gradients reach s and γ, equal to the reference's")


def mix_devices(scalar_mix: Callable) -> None:
    """Hidden: `meta` tensors (nothing created on a fixed device), and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        layers = torch.empty((3, 2, 4, 6), dtype=dtype, device="meta")
        s, gamma = torch.empty(3, dtype=dtype, device="meta"), torch.empty((), dtype=dtype, device="meta")
        context = f"for layers, s and gamma on the meta device ({str(dtype)[6:]}), which has shapes but no values"
        got = call(scalar_mix, layers, s, gamma, name="scalar_mix", context=context)
        expect_tensor(got, ref.scalar_mix(layers, s, gamma), what="the mix", context=context)

    def cuda_run() -> None:
        _expect_mix(scalar_mix, randn((3, 2, 4, 6), seed=160, device="cuda"), randn((3,), seed=161, device="cuda"),
                    torch.tensor(1.1, device="cuda"))

    passed("mix_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")
