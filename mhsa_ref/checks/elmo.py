"""Named checks for exercise 03_elmo: one function per graded cell of the notebook.

Visible checks use a batch of two sentences and three layers of (B=2, T=4, D=6) vectors; hidden
ones add one- and two-token sentences, inputs that must stay untouched, layers with more or fewer
dimensions, gradients to s and γ, float64, `meta` tensors, and CUDA when present.
"""

from __future__ import annotations

import math
import functools
from typing import Callable

import torch
from torch import Tensor

from mhsa_ref import elmo as ref
from mhsa_ref.checks._core import CheckFailure, call, expect_close, expect_results, expect_exact, expect_tensor, on_cuda, passed, randn
from mhsa_ref.checks._questions import expect_answer, form_passed, near, read_choice, read_float

__all__ = [
    "targets_values",
    "targets_edge_cases",
    "mix_values",
    "mix_shapes_and_dtypes",
    "mix_gradients",
    "mix_devices",
    "perplexity_values",
    "perplexity_cases",
    "copy_target_form",
    "copy_target_question",
    "mixed_perplexity_form",
    "mixed_perplexity_question",
    "bilm_perplexity_form",
    "bilm_perplexity_question",
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
    got = call(bidirectional_targets, ids, name="bidirectional_targets", context=context)  # in place: `call` says so
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


# ---------------------------------------------------------------------------------------------
# perplexity


def _nll(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """−log p(target) at every position (any value where ignored), and the positions that have a target."""
    keep = targets != IGNORE
    picked = logits.log_softmax(-1).gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return -picked, keep


def _perplexity_suspects(logits: Tensor, targets: Tensor) -> dict[str, Callable[[], Tensor]]:
    nll, keep = _nll(logits, targets)
    mean = lambda: (nll * keep).sum() / keep.sum()
    return {
        "you returned the mean cross-entropy (the loss) itself; perplexity is its exponential, exp(loss).": mean,
        "the positions whose target is −100 were counted in the mean (as a loss of 0): average over the positions "
        "that have a target only, (targets != -100).sum() of them.": lambda: ((nll * keep).sum() / keep.numel()).exp(),
        "you averaged the per-position perplexities, mean(exp(−log p)); perplexity is the exponential of the mean "
        "loss, exp(mean(−log p)), which is smaller (the exponential is convex).":
            lambda: (nll.exp() * keep).sum() / keep.sum(),
        "you summed the losses instead of averaging them: exp(sum) grows with the length of the text.":
            lambda: (nll * keep).sum().exp(),
        "you took the probability with softmax(logits) over the wrong axis; the V words are on the last axis.":
            lambda: ((-logits.log_softmax(0).gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1) * keep).sum()
                     / keep.sum()).exp(),
        "the positions whose target is −100 were scored as if their target were word 0; they have no target: "
        "leave them out of the mean (keep = targets != -100).": lambda: nll.mean().exp(),
        "2 ** loss: the loss is in nats (natural log), so its perplexity is e ** loss, torch.exp(loss).":
            lambda: 2 ** mean(),
        "the logits were normalised over the positions (softmax over the first axis of the flattened (N, V) "
        "logits); each position's probabilities run over its V words, the last axis.":
            lambda: ((-logits.reshape(-1, logits.size(-1)).log_softmax(0).gather(
                -1, targets.reshape(-1, 1).clamp_min(0)).squeeze(-1) * keep.reshape(-1)).sum() / keep.sum()).exp(),
        "the logits were used as log-probabilities: normalise them first, log p = logits.log_softmax(-1).":
            lambda: ((-logits.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1) * keep).sum()
                     / keep.sum()).exp(),
    }


_PERPLEXITY_NAN = ("log(softmax(logits)) with exp overflowing (exp(1000) is inf, inf/inf is NaN) or a probability "
                   "rounding to 0 (log 0 = -inf). Use logits.log_softmax(-1) (or subtract the max before exp), "
                   "which never overflows.")


def _expect_perplexity(perplexity: Callable, logits: Tensor, targets: Tensor) -> None:
    ignored = int((targets == IGNORE).sum())
    context = (f"for logits {tuple(logits.shape)} ({str(logits.dtype)[6:]}) and targets {tuple(targets.shape)} "
               f"with {ignored} ignored (−100)")
    got = call(perplexity, logits, targets, name="perplexity", context=context)
    if isinstance(got, float):
        raise CheckFailure(f"perplexity returned a Python float {context}; return the 0-d tensor (leave out .item()), "
                           f"so that it stays on the logits' device.")
    expect_close(got, ref.perplexity(logits, targets), what="the perplexity", context=context,
                 suspects=_perplexity_suspects(logits, targets), nan_hint=_PERPLEXITY_NAN)


def _lm_batch(B: int, T: int, V: int, *, seed: int, dtype=torch.float32, device="cpu", scale: float = 1.0):
    """Logits (B, T, V) and forward targets (B, T) of random sentences: −100 at every last position."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (B, T), generator=g)
    logits = randn((B, T, V), seed=seed, dtype=dtype) * scale
    return logits.to(device), ref.bidirectional_targets(ids)[0].to(device)


def perplexity_values(perplexity: Callable) -> None:
    """Visible: logits (B=2, T=5, V=7) with forward targets (−100 at the last positions), and without any −100."""
    logits, targets = _lm_batch(2, 5, 7, seed=170)
    _expect_perplexity(perplexity, logits, targets)
    _expect_perplexity(perplexity, logits[:, :4], targets[:, :4])
    passed("perplexity_values", "exp of the mean −log p(target) over the positions that have a target")


def perplexity_cases(perplexity: Callable) -> None:
    """Hidden: uniform logits (perplexity V), confident logits near ±1000, (N, V) inputs, float64; CUDA."""
    for dtype in (torch.float32, torch.float64):
        _expect_perplexity(perplexity, torch.zeros(3, 4, 11, dtype=dtype), _lm_batch(3, 4, 11, seed=180)[1])
        confident, _ = _lm_batch(2, 6, 9, seed=181, dtype=dtype, scale=1000.0)
        right = confident.argmax(-1)  # a confident model that is right: perplexity 1, but exp(1000) overflows
        right[:, -1] = IGNORE
        _expect_perplexity(perplexity, confident, right)
        logits, targets = _lm_batch(1, 12, 5, seed=182, dtype=dtype)
        targets[0, ::3] = IGNORE
        _expect_perplexity(perplexity, logits[0], targets[0])

    def cuda_run() -> None:
        _expect_perplexity(perplexity, *_lm_batch(2, 5, 7, seed=183, device="cuda"))

    passed("perplexity_cases", f"uniform logits give V, confident ones stay finite, (N, V) and float64; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run


def copy_target_form(answer_copy_target: object) -> None:
    """Visible: the answer is one of the letters a, b, c."""
    read_choice(answer_copy_target, "abc", what="answer_copy_target")
    form_passed("copy_target_form", "one letter")


def copy_target_question(answer_copy_target: object) -> None:
    """Hidden: what a forward model learns when its target at t is ids[t] itself."""
    got = read_choice(answer_copy_target, "abc", what="answer_copy_target")
    expect_answer(got, "a", name="copy_target_question",
                  summary="(a): the forward state at t has already read ids[t], so it only has to copy it",
                  why=("the forward LSTM's state at position t has read ids[0], …, ids[t], the target word "
                       "included. Predicting ids[t] from it is copying, which a network learns quickly, so the "
                       "perplexity falls towards 1 and the model learns nothing about language. That is why the "
                       "forward target is the *next* word, ids[t+1], which the state has not seen (and the "
                       "backward one the previous word), and why ELMo needs two directions instead of one LSTM "
                       "that reads the whole sentence."),
                  wrong={"b": "the target would be a word the state has already read: nothing is left to predict.",
                         "c": "the task becomes easier, not impossible: the answer is in the state's input."})


def mixed_perplexity_form(answer_mixed_perplexity: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_mixed_perplexity, what="answer_mixed_perplexity")
    form_passed("mixed_perplexity_form", "one number")


def mixed_perplexity_question(answer_mixed_perplexity: object) -> None:
    """Hidden: perplexity when the right word gets probability 1 at half of the positions and 1/4 at the others."""
    got = read_float(answer_mixed_perplexity, what="answer_mixed_perplexity")
    logits = torch.tensor([[100.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]).repeat(3, 1)  # p = 1, then 1/4 (6 positions)
    want = ref.perplexity(logits, torch.zeros(6, dtype=torch.long)).item()
    expect_answer(got, want, name="mixed_perplexity_question", close=near(),
                  summary=f"{want:.3f}: the exponential of the mean loss, (0 + log 4) / 2 = log 2",
                  why=("the loss is −log p: 0 where the model is sure and right, log 4 where it gives 1/4. Its mean is "
                       "log 4 / 2 = log 2, and the perplexity exp(log 2) = 2: the model hesitates like one choosing "
                       "between 2 words at every position. The average of the per-position perplexities, (1 + 4) / 2 = "
                       "2.5, is larger: perplexity is a geometric mean of 1/p, not an arithmetic one."),
                  wrong={2.5: "that averages the per-position perplexities (1 and 4); perplexity is the exponential of "
                              "the mean loss: exp((0 + log 4) / 2) = 2.",
                         4.0: "4 is the perplexity of the uncertain positions alone; half the positions have "
                              "perplexity 1.",
                         0.625: "that is the mean probability of the right word; perplexity is exp of the mean "
                                "−log p, 2 here.",
                         1.6: "1.6 is 1 / 0.625, one over the mean probability; the mean of −log p gives exp(log 2) = 2."})


def bilm_perplexity_form(answer_bilm_perplexity: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_bilm_perplexity, what="answer_bilm_perplexity")
    form_passed("bilm_perplexity_form", "one number")


@functools.lru_cache(maxsize=1)
def _bilm_perplexity() -> float:
    """The forward perplexity of the course's biLM on the corpus's held-out sentences (the notebook's experiment)."""
    from mhsa_ref import corpus, elmo

    model = elmo.pretrained()
    by_length: dict[int, list[Tensor]] = {}
    for sentence in corpus.distinct_sentences("held-out"):
        by_length.setdefault(len(sentence), []).append(model.ids(sentence)[0])  # (T + 2,)
    logits, targets = [], []
    with torch.no_grad():
        for same in by_length.values():
            ids = torch.stack(same)  # (n, T + 2): the held-out sentences of one length
            _, forward, _ = model.model.directions(ids)
            logits.append(model.model.out(forward[-1]).flatten(0, 1))  # (n · (T + 2), V)
            targets.append(ref.bidirectional_targets(ids)[0].flatten())
        return ref.perplexity(torch.cat(logits), torch.cat(targets)).item()


def bilm_perplexity_question(answer_bilm_perplexity: object) -> None:
    """Hidden: the biLM's forward perplexity on held-out sentences (the number of words it hesitates between), as the
    notebook's cell measures it."""
    got = read_float(answer_bilm_perplexity, what="answer_bilm_perplexity")
    want = _bilm_perplexity()
    from mhsa_ref import elmo

    V = len(elmo.pretrained().vocab)
    expect_answer(got, want, name="bilm_perplexity_question", close=near(rel=0.02, abs_=0.05),
                  summary=f"{want:.2f}: on sentences it never saw, it hesitates between about {want:.1f} words",
                  why=(f"the cell's measurement: exp of the mean −log p(next word) over the held-out sentences' "
                       f"positions is {want:.2f}, against {V} for a model that knows nothing (uniform over its "
                       f"vocabulary). The corpus is a small grammar, so after a few words the next one is nearly "
                       f"decided; most of the hesitation is at the slots a class fills (which animal, which city)."),
                  wrong={float(V): f"{V} is the perplexity of a uniform model; the trained biLM does far better.",
                         math.log(want): "that is the mean loss, the log of the perplexity; the perplexity is its "
                                         "exponential."})
