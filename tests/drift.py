"""Comparing a run trained here with the one the course stores: tolerances that hold on any x86-64 CPU.

A training run is not bit for bit the same on another CPU: its float32 kernels add in another order
(AVX-512, AVX2 or SSE; MKL and oneDNN choose by the processor), and after thousands of Adam steps the
last bits have grown. `benchmarks/bench_drift.py` trains each stored run again with another CPU's
kernels forced, and with other thread counts, and beside that with a real change (another seed, one
step or epoch fewer, a learning rate 10 % higher, another loss). Its table (benchmarks/RESULTS.md,
2026-12-07, AMD EPYC with AVX-512; the SSE4 kernels drift the most) gives the largest difference from
the stored run:

| stored run | quantity | drift | smallest change | tolerance |
|---|---|---|---|---|
| word2vec space | vectors | 7.4e-04 | 0.42 (one epoch fewer) | 5e-3 |
| biLM | weights | 1.2e-02 | 0.40 (one epoch fewer) | 6e-2 |
| biLM | layer vectors of "I have a dream" | 2.2e-02 | 1.2 (one epoch fewer) | 1e-1 |
| word2vec, biLM | last epoch's loss | 1.9e-05 | 1.0e-02 (seed) | 2e-4 |
| chapter 09's encoder (h = 1) | weights | 2.0e-03 | 1.8e-02 (one step fewer) | 6e-3 |
| chapter 09's encoder | held-out verb loss | 2.5e-06 | 1.9e-04 (one step fewer) | 3e-5 |
| chapter 09's encoder | held-out corpus loss | 2.1e-04 | 1.6e-02 (one step fewer) | 2e-3 |
| chapter 09's encoder | held-out accuracies | 0 | 1.7e-03 (lr) | 2 predictions |
| two places (h = 1) | weights | 1.8e-05 | 1.7e-03 (one step fewer) | 2e-4 |
| two places (h = 1) | held-out error, each point | 3.0e-08 | 2.2e-04 (lr) | 2e-5 |

An Intel Xeon measured 1.3e-04 on an earlier encoder's weights (issue 25), inside the SSE4 drift of the
same run (3.8e-04). Thread counts change nothing: the trainers run on one thread. Each tolerance sits
between the two columns, several times above the drift and below the smallest change, so a test that
uses it holds on any CPU and still fails on a changed seed, step count, learning rate or loss (each test
file has a control that trains the smallest change and requires the comparison to fail). A model that
trains to an error of 1e-5 (two places with two heads) ends in Adam's noise, where the drift is larger
than one step's change; its tests compare the one-head run, which settles at its plateau.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch

WORD2VEC_WEIGHTS = 5e-3
ELMO_WEIGHTS = 6e-2
ELMO_VECTORS = 1e-1  # what chapter 03 prints of the biLM: its layer vectors
ENCODER_WEIGHTS = 6e-3
TWO_PLACES_WEIGHTS = 2e-4
TWO_PLACES_ERROR = 2e-5
NUMBERS = 2e-4  # a loss of word2vec or the biLM
ENCODER_NUMBERS = {"verb_loss": 3e-5, "corpus_loss": 2e-3}
# accuracies are counts over a held-out set: a prediction at a tie may flip, two are allowed
PREDICTIONS = 2


def disagreements(trained: Mapping[str, torch.Tensor], stored: Mapping[str, torch.Tensor], atol: float) -> list[str]:
    """The tensors of `trained` that differ from `stored` by more than `atol` (with the largest gap), or have no match."""
    out = []
    for name, value in stored.items():
        if name not in trained or trained[name].shape != value.shape:
            out.append(f"{name}: missing or of another shape")
            continue
        gap = float((trained[name].double() - value.double()).abs().max())
        if not gap <= atol:
            out.append(f"{name}: differs by {gap:.2e} > {atol:.0e}")
    return out


def number_disagreements(trained: Mapping, stored: Mapping, keys, *, atol: float | Mapping[str, float] = NUMBERS,
                         count: int | None = None) -> list[str]:
    """The numbers among `keys` that differ by more than their tolerance: `atol` (one for all, or one per key), or,
    for an accuracy (a key ending in "accuracy") of `count` predictions, PREDICTIONS of them."""
    out = []
    for key in keys:
        if count and key.endswith("accuracy"):
            allowed = PREDICTIONS / count
        else:
            allowed = atol[key] if isinstance(atol, Mapping) else atol
        gap = abs(trained[key] - stored[key])
        if not (gap <= allowed or math.isclose(trained[key], stored[key])):
            out.append(f"{key}: {trained[key]!r} against the stored {stored[key]!r} (allowed {allowed:.1e})")
    return out
