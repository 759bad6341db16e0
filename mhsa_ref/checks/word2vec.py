"""Named checks for exercise 02_word2vec: one function per graded cell of the notebook.

Visible checks use small sentences and batches; hidden ones add a window longer than the
sentence, one-token sentences, other powers, zero counts, dot products large enough to break a
naive log(sigmoid), float64, `meta` tensors, and CUDA when present.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from mhsa_ref import word2vec as ref
from mhsa_ref.checks._core import CheckFailure, call, expect_close, expect_exact, expect_tensor, on_cuda, passed, randn
from mhsa_ref.checks._questions import expect_answer, form_passed, near, read_choice, read_float, read_int

__all__ = [
    "pairs_values",
    "pairs_edge_cases",
    "noise_values",
    "noise_powers_and_dtypes",
    "sgns_values",
    "sgns_stability",
    "sgns_shapes_and_dtypes",
    "sgns_devices",
    "cooccurrence_values",
    "cooccurrence_cases",
    "pair_count_form",
    "pair_count_question",
    "noise_share_form",
    "noise_share_question",
    "bank_contexts_form",
    "bank_contexts_question",
]

# ---------------------------------------------------------------------------------------------
# skipgram_pairs


def _pairs_with(ids: Tensor, offsets: list[int], *, wrap: bool = False, swap: bool = False, offset_major: bool = False) -> Tensor:
    """Pairs formed with a deliberate mistake, to recognise that mistake in a learner's output."""
    n = ids.numel()
    rows = []
    order = [(o, i) for o in offsets for i in range(n)] if offset_major else [(o, i) for i in range(n) for o in offsets]
    for o, i in order:
        j = i + o
        if wrap:
            j %= n
        elif not 0 <= j < n:
            continue
        rows.append((int(ids[j]), int(ids[i])) if swap else (int(ids[i]), int(ids[j])))
    return torch.tensor(rows, dtype=torch.long).view(-1, 2)


def _pairs_suspects(ids: Tensor, window: int) -> dict[str, Callable[[], Tensor]]:
    offsets = [*range(-window, 0), *range(1, window + 1)]
    return {
        "the word was paired with itself (offset 0); the context is the window without the center.":
            lambda: _pairs_with(ids, list(range(-window, window + 1))),
        "the columns are swapped; each row is (center, context).": lambda: _pairs_with(ids, offsets, swap=True),
        "the rows are grouped by offset first; order them by center position, then offset -window..-1, 1..window.":
            lambda: _pairs_with(ids, offsets, offset_major=True),
        "positions wrapped around the sentence (modulo N); pairs that fall off either end are dropped.":
            lambda: _pairs_with(ids, offsets, wrap=True),
        "the window is one too small (range(-window + 1, window)); offsets run from -window to window.":
            lambda: _pairs_with(ids, [o for o in offsets if abs(o) < window]),
        "only the words after the center were used; the context has `window` words on each side.":
            lambda: _pairs_with(ids, [o for o in offsets if o > 0]),
        "the offsets run 1..window then -window..-1; the order is -window..-1, then 1..window.":
            lambda: _pairs_with(ids, [*range(1, window + 1), *range(-window, 0)]),
    }


def _expect_pairs(skipgram_pairs: Callable, ids: Tensor, window: int) -> None:
    context = f"for ids {ids.tolist() if ids.numel() <= 12 else tuple(ids.shape)} and window={window}"
    got = call(skipgram_pairs, ids, window, name="skipgram_pairs", context=context)
    want = ref.skipgram_pairs(ids, window)
    if isinstance(got, Tensor) and got.shape == want.shape and got.dtype != torch.long:
        raise CheckFailure(f"skipgram_pairs returned {got.dtype} {context}; the pairs are word indices, torch.long "
                           f"(they index an embedding table).")
    if isinstance(got, Tensor) and want.numel() == 0 and got.numel() == 0 and got.shape != want.shape:
        raise CheckFailure(f"skipgram_pairs returned shape {tuple(got.shape)} {context}; a sentence without pairs "
                           f"gives shape (0, 2). torch.tensor([]) is 1-D: end with .view(-1, 2) (or reshape(-1, 2)).")
    expect_exact(got, want, what="pairs", context=context, suspects=_pairs_suspects(ids, window))


def pairs_values(skipgram_pairs: Callable) -> None:
    """Visible: ids [0, 1, 2, 3, 4] with window 2, and "I have a dream" (ids [0, 1, 2, 3]) with window 1."""
    _expect_pairs(skipgram_pairs, torch.tensor([0, 1, 2, 3, 4]), 2)
    _expect_pairs(skipgram_pairs, torch.tensor([0, 1, 2, 3]), 1)
    _expect_pairs(skipgram_pairs, torch.tensor([7, 3, 7, 5, 2, 3]), 2)
    passed("pairs_values", "(center, context) rows in order, ends dropped, repeated words kept")


def pairs_edge_cases(skipgram_pairs: Callable) -> None:
    """Hidden: a window longer than the sentence, one- and two-token sentences, a long sentence; CUDA."""
    _expect_pairs(skipgram_pairs, torch.tensor([4, 1, 3]), 10)
    _expect_pairs(skipgram_pairs, torch.tensor([9]), 2)
    _expect_pairs(skipgram_pairs, torch.tensor([9, 4]), 1)
    g = torch.Generator().manual_seed(5)
    _expect_pairs(skipgram_pairs, torch.randint(0, 50, (40,), generator=g), 3)

    def cuda_run() -> None:
        _expect_pairs(skipgram_pairs, torch.tensor([0, 1, 2, 3, 4], device="cuda"), 2)

    passed("pairs_edge_cases", f"window longer than the sentence, one-token sentence (no pairs); {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# noise_distribution


def _noise_suspects(counts: Tensor, power: float) -> dict[str, Callable[[], Tensor]]:
    c = counts if counts.is_floating_point() else counts.float()
    suspects = {
        "counts^power was not normalised; divide by its sum so the probabilities add up to 1.": lambda: c ** power,
        "the power was not applied: this is the unigram distribution counts / sum(counts).": lambda: c / c.sum(),
        "the counts were normalised before the power and not again after: (c / Σc)^power does not sum to 1.":
            lambda: (c / c.sum()) ** power,
        "the exponent was 1/power; raise the counts to `power`.": lambda: ref.noise_distribution(counts, 1 / power),
    }
    if power != 0.75:
        suspects["the exponent is always 0.75; use the `power` argument."] = lambda: ref.noise_distribution(counts, 0.75)
    return suspects


def _expect_noise(noise_distribution: Callable, counts: Tensor, power: float | None) -> None:
    shown = counts.tolist() if counts.numel() <= 8 else f"of shape {tuple(counts.shape)}"
    context = f"for counts {shown} ({str(counts.dtype)[6:]})" + (f" and power={power}" if power is not None else " (default power)")
    args = (counts,) if power is None else (counts, power)
    got = call(noise_distribution, *args, name="noise_distribution", context=context)
    p = 0.75 if power is None else power
    expect_close(got, ref.noise_distribution(counts, p), what="the noise distribution", context=context,
                 suspects=_noise_suspects(counts, p))


def noise_values(noise_distribution: Callable) -> None:
    """Visible: counts [5, 1, 20, 2, 8] with the default power 0.75, and power 1."""
    counts = torch.tensor([5.0, 1.0, 20.0, 2.0, 8.0])
    _expect_noise(noise_distribution, counts, None)
    _expect_noise(noise_distribution, counts, 1.0)
    passed("noise_values", "counts^0.75 normalised to 1 (and power 1 gives the unigram distribution)")


def noise_powers_and_dtypes(noise_distribution: Callable) -> None:
    """Hidden: powers 0.5 and 0 (uniform), a word that never occurs, integer counts (float32 out), float64."""
    g = torch.Generator().manual_seed(7)
    counts = torch.randint(1, 1000, (30,), generator=g)
    _expect_noise(noise_distribution, counts.to(torch.float64), 0.5)
    _expect_noise(noise_distribution, counts.to(torch.float64), 0.75)
    _expect_noise(noise_distribution, counts, 0.75)  # int64 counts -> float32 probabilities
    with_zero = torch.tensor([3.0, 0.0, 9.0, 1.0])
    _expect_noise(noise_distribution, with_zero, 0.75)
    _expect_noise(noise_distribution, torch.tensor([3.0, 1.0, 9.0, 1.0], dtype=torch.float64), 0.0)
    meta = torch.empty(30, device="meta")
    context = "for counts on the meta device, which has shapes but no values"
    got = call(noise_distribution, meta, 0.75, name="noise_distribution", context=context)
    expect_tensor(got, ref.noise_distribution(meta, 0.75), what="the noise distribution", context=context)
    passed("noise_powers_and_dtypes", "powers 0, 0.5, 0.75; zero counts; integer and float64 counts; meta tensors")


# ---------------------------------------------------------------------------------------------
# sgns_loss


def _sgns_suspects(c: Tensor, o: Tensor, n: Tensor) -> dict[str, Callable[[], Tensor]]:
    pos = lambda: (c * o).sum(-1)  # (B,)
    neg = lambda: (n @ c.unsqueeze(-1)).squeeze(-1)  # (B, K)
    suspects = {
        "the loss is summed over the batch; take the mean over the B pairs.":
            lambda: -(F.logsigmoid(pos()) + F.logsigmoid(-neg()).sum(-1)).sum(),
        "the negatives' term uses log σ(c·n); a noise word should score low, so it is log σ(−c·n).":
            lambda: -(F.logsigmoid(pos()) + F.logsigmoid(neg()).sum(-1)).mean(),
        "the negatives' term is averaged over the K noise words; it is a sum over k.":
            lambda: -(F.logsigmoid(pos()) + F.logsigmoid(-neg()).mean(-1)).mean(),
        "the negatives' term is missing: add Σ_k log σ(−c·n_k) for the K noise words.":
            lambda: -F.logsigmoid(pos()).mean(),
        "the sign is flipped: the loss is the negative of the log-likelihood, −[log σ(c·o) + Σ log σ(−c·n)].":
            lambda: (F.logsigmoid(pos()) + F.logsigmoid(-neg()).sum(-1)).mean(),
        "the log is missing: use log σ(x) (F.logsigmoid), not σ(x).":
            lambda: -(torch.sigmoid(pos()) + torch.sigmoid(-neg()).sum(-1)).mean(),
    }
    for eps in (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-12):
        suspects[f"you took log(σ(x) + ε) with ε = {eps:g}: finite, but wrong wherever σ(x) is below ε (large "
                 f"negative x). F.logsigmoid(x) computes log σ(x) exactly, without forming σ(x)."] = (
            lambda eps=eps: -((torch.sigmoid(pos()) + eps).log() + (torch.sigmoid(-neg()) + eps).log().sum(-1)).mean()
        )
    return suspects


_OVERFLOW = ("log(sigmoid(x)) underflows: for x ≈ −100, sigmoid(x) rounds to 0 and log(0) = −inf. "
             "F.logsigmoid(x) computes log σ(x) without forming σ(x) first, so it stays finite.")


def _expect_sgns(sgns_loss: Callable, c: Tensor, o: Tensor, n: Tensor) -> None:
    context = f"for center {tuple(c.shape)}, context {tuple(o.shape)}, negatives {tuple(n.shape)} ({str(c.dtype)[6:]})"
    got = call(sgns_loss, c, o, n, name="sgns_loss", context=context)
    want = ref.sgns_loss(c, o, n)
    if isinstance(got, Tensor) and got.dim() == 0 and not torch.isfinite(got) and torch.isfinite(want):
        raise CheckFailure(f"sgns_loss is {got.item()} {context}; the expected loss is {want.item():.6g}.\n"
                           f"  Likely cause: {_OVERFLOW}")
    if isinstance(got, float):
        raise CheckFailure(f"sgns_loss returned a Python float {context}; return the tensor (no .item()), so that "
                           f"training can call .backward() on it.")
    expect_close(got, want, what="the loss", context=context, suspects=_sgns_suspects(c, o, n), nan_hint=_OVERFLOW)


def _batch(b: int, k: int, d: int, *, seed: int, dtype=torch.float32, device="cpu", scale: float = 1.0):
    return (randn((b, d), seed=seed, dtype=dtype, device=device) * scale,
            randn((b, d), seed=seed + 1, dtype=dtype, device=device) * scale,
            randn((b, k, d), seed=seed + 2, dtype=dtype, device=device) * scale)


def sgns_values(sgns_loss: Callable) -> None:
    """Visible: B=4 pairs, K=3 negatives, D=6."""
    _expect_sgns(sgns_loss, *_batch(4, 3, 6, seed=80))
    _expect_sgns(sgns_loss, *_batch(4, 3, 6, seed=83, scale=0.5))
    passed("sgns_values", "matches the reference for B=4, K=3, D=6")


def sgns_stability(sgns_loss: Callable) -> None:
    """Hidden: dot products near ±1000 (beyond what exp can hold even in float64), in float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        c, o, n = _batch(5, 4, 8, seed=90, dtype=dtype, scale=15.0)
        o = -o.abs() * c.sign()  # true pairs that point away from each other: c·o ≈ −1000
        n = n.abs() * c.sign().unsqueeze(1)  # noise words that point the same way: c·n ≈ +1000
        _expect_sgns(sgns_loss, c, o, n)
    passed("sgns_stability", "finite for dot products of about ±1000 (logsigmoid, not log(sigmoid))")


def sgns_shapes_and_dtypes(sgns_loss: Callable) -> None:
    """Hidden: B=1, K=1, D=1, and B=7, K=5, D=3 (every size differs), float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        _expect_sgns(sgns_loss, *_batch(1, 1, 1, seed=100, dtype=dtype))
        _expect_sgns(sgns_loss, *_batch(7, 5, 3, seed=101, dtype=dtype))
        _expect_sgns(sgns_loss, *_batch(2, 9, 4, seed=102, dtype=dtype))
    passed("sgns_shapes_and_dtypes", "B=1/K=1/D=1 and sizes that all differ, float32 and float64")


def sgns_devices(sgns_loss: Callable) -> None:
    """Hidden: `meta` tensors (nothing created on a fixed device), gradients, and CUDA when present."""
    c, o, n = (t.requires_grad_() for t in _batch(3, 4, 5, seed=110, dtype=torch.float64))
    got = call(sgns_loss, c, o, n, name="sgns_loss", context="with inputs that require gradients")
    if not isinstance(got, Tensor) or not got.requires_grad:
        raise CheckFailure("sgns_loss does not pass gradients back to its inputs: training could not learn from it.\n"
                           "  Likely cause: .item(), .detach(), .numpy() or torch.tensor(...) on an intermediate value.")
    for dtype in (torch.float32, torch.float64):
        c, o, n = _batch(3, 4, 5, seed=0, dtype=dtype, device="meta")
        context = f"for inputs on the meta device ({str(dtype)[6:]}), which has shapes but no values"
        got = call(sgns_loss, c, o, n, name="sgns_loss", context=context)
        expect_tensor(got, ref.sgns_loss(c, o, n), what="the loss", context=context)

    def cuda_run() -> None:
        _expect_sgns(sgns_loss, *_batch(4, 3, 6, seed=120, device="cuda"))

    passed("sgns_devices", f"device- and dtype-agnostic on meta tensors, differentiable; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# cooccurrence_counts


def _cooccurrence_suspects(pairs: Tensor, V: int) -> dict[str, Callable[[], Tensor]]:
    want = lambda: ref.cooccurrence_counts(pairs, V)
    return {
        "the matrix is transposed: row c, column o counts the rows (c, o) of pairs, the center first.":
            lambda: want().T,
        "a repeated pair was counted once: indexing with counts[c, o] += 1 or index_put_ without "
        "accumulate=True writes each (c, o) once however often it occurs; use index_put_(..., accumulate=True) "
        "or a loop over the rows.": lambda: (want() > 0).long(),
        "each pair was counted in both directions, (c, o) and (o, c); count each row of pairs once, as it is.":
            lambda: want() + want().T,
        "the pairs whose center is also the context were left out (the diagonal is 0); a word can be in its own "
        "context (\"the cat and the dog\": the, the), and every row of pairs counts.":
            lambda: want() * (1 - torch.eye(V, dtype=torch.long, device=pairs.device)),
    }


def _frequencies_hint(got: Tensor, want: Tensor) -> str:
    """What a float result that should have been counts most likely is."""
    total = want.sum()
    if total > 0 and torch.allclose(got.double() * total, want.double(), atol=1e-6):
        return ("\n  Likely cause: the counts were divided by the number of pairs (frequencies); return the counts "
                "themselves.")
    return ""


def _reads_values(message: str) -> bool:
    """Whether a call on meta tensors failed only because it needs their values: an operator without a meta kernel
    (torch.bincount) or a loop over pairs.tolist(), both right ways that the exercise allows."""
    return "raised NotImplementedError" in message and (
        "attempted to run this operator with Meta tensors" in message or "Cannot copy out of meta tensor" in message)


def _expect_cooccurrence(cooccurrence_counts: Callable, pairs: Tensor, V: int) -> None:
    shown = pairs.tolist() if pairs.size(0) <= 6 and pairs.device.type != "meta" else f"of shape {tuple(pairs.shape)}"
    context = f"for pairs {shown} and vocab_size={V}"
    try:
        got = call(cooccurrence_counts, pairs, V, name="cooccurrence_counts", context=context)
    except CheckFailure as failure:
        if pairs.device.type == "meta" and _reads_values(str(failure)):
            return  # a meta tensor has no values to read: this case cannot see such a function's device (CUDA can)
        raise
    want = ref.cooccurrence_counts(pairs, V)
    if want.device.type == "meta":
        expect_tensor(got, want, what="the co-occurrence counts", context=context)
        return
    if isinstance(got, Tensor) and got.shape == want.shape and got.is_floating_point():
        raise CheckFailure(f"cooccurrence_counts returned {got.dtype} {context}; counts are integers: return a "
                           f"LongTensor (dtype=torch.long), not probabilities or floats." + _frequencies_hint(got, want))
    expect_exact(got, want, what="co-occurrence counts", context=context, suspects=_cooccurrence_suspects(pairs, V))


def cooccurrence_values(cooccurrence_counts: Callable) -> None:
    """Visible: pairs with a repeated row (not symmetric), and the pairs of ids [0, 1, 2, 3, 4] with window 2."""
    _expect_cooccurrence(cooccurrence_counts, torch.tensor([[0, 1], [0, 1], [2, 0], [1, 1], [2, 1]]), 3)
    _expect_cooccurrence(cooccurrence_counts, ref.skipgram_pairs(torch.arange(5), 2), 5)
    passed("cooccurrence_values", "counts[c, o] = how many rows are (c, o), repeated rows counted, center first")


def cooccurrence_cases(cooccurrence_counts: Callable) -> None:
    """Hidden: no pairs, a vocabulary larger than the ids used, the pairs of a corpus sentence; CUDA when present."""
    from mhsa_ref import corpus

    _expect_cooccurrence(cooccurrence_counts, torch.zeros((0, 2), dtype=torch.long), 4)
    _expect_cooccurrence(cooccurrence_counts, torch.tensor([[3, 0], [3, 0], [3, 0]]), 7)
    sentences = corpus.sentences()[:40]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(w for s in sentences for w in s))}
    pairs = torch.cat([ref.skipgram_pairs(torch.tensor([vocab[w] for w in s]), 2) for s in sentences])
    _expect_cooccurrence(cooccurrence_counts, pairs, len(vocab))

    _expect_cooccurrence(cooccurrence_counts, torch.empty((5, 2), dtype=torch.long, device="meta"), 4)

    def cuda_run() -> None:
        _expect_cooccurrence(cooccurrence_counts, torch.tensor([[0, 1], [0, 1], [2, 0]], device="cuda"), 3)

    passed("cooccurrence_cases", f"no pairs, unused words, 40 corpus sentences with window 2, meta tensors; "
                                 f"{on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run


def pair_count_form(answer_pair_count: object) -> None:
    """Visible: the answer is one int."""
    read_int(answer_pair_count, what="answer_pair_count")
    form_passed("pair_count_form", "one int")


def pair_count_question(answer_pair_count: object) -> None:
    """Hidden: the number of pairs of a 10-token sentence with window 2."""
    got = read_int(answer_pair_count, what="answer_pair_count")
    n, w = 10, 2
    want = ref.skipgram_pairs(torch.arange(n), w).size(0)
    expect_answer(got, want, name="pair_count_question",
                  summary=f"{want} pairs: 2·w·N = {2 * w * n}, less the {w * (w + 1)} that fall off the ends",
                  why=(f"each of the N = {n} centers has 2·w = {2 * w} context positions, {2 * w * n} in all, but near "
                       f"the ends some fall off the sentence: position 0 loses {w} (offsets -2 and -1), position 1 "
                       f"loses 1, and the same at the other end, w·(w + 1) = {w * (w + 1)} in all. "
                       f"{2 * w * n} − {w * (w + 1)} = {want}."),
                  wrong={2 * w * n: "2·w·N counts the context positions that fall off the ends of the sentence.",
                         w * n: "each center looks w positions to the left and w to the right: 2·w offsets.",
                         want // 2: "pairs are ordered: (a, b) and (b, a) are two rows, one for each center."})


def noise_share_form(answer_noise_share: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_noise_share, what="answer_noise_share")
    form_passed("noise_share_form", "one number")


def noise_share_question(answer_noise_share: object) -> None:
    """Hidden: the noise probability of the rare word of counts [1, 16] with power 0.75."""
    got = read_float(answer_noise_share, what="answer_noise_share")
    want = ref.noise_distribution(torch.tensor([1.0, 16.0], dtype=torch.float64))[0].item()
    expect_answer(got, want, name="noise_share_question", close=near(rel=1e-2),
                  summary=f"1/9 ≈ {want:.4f}: twice its share of the text, 1/17",
                  why=("16^0.75 = (2^4)^0.75 = 2^3 = 8 and 1^0.75 = 1, so the rare word is drawn with probability "
                       "1 / (1 + 8) = 1/9 ≈ 0.111, almost twice its share of the text, 1/17 ≈ 0.059. The power 0.75 "
                       "flattens the distribution: frequent words are drawn less often than they occur, rare ones more."),
                  wrong={1 / 17: "1/17 is the word's share of the text (power 1); the power 0.75 changes the counts first.",
                         0.5: "0.5 is power 0 (every word drawn equally often); 0.75 lies between that and the frequencies.",
                         1 / 16: "divide by the sum of both words' weights, 1 + 8, not by the other word's count."})


def bank_contexts_form(answer_bank_contexts: object) -> None:
    """Visible: the answer is one of the letters a, b, c."""
    read_choice(answer_bank_contexts, "abc", what="answer_bank_contexts")
    form_passed("bank_contexts_form", "one letter")


def _bank_row() -> tuple[list[tuple[str, int]], dict[str, int], int]:
    """The row of "bank" in the co-occurrence counts of the training sentences, window 2 (the notebook's cell)."""
    from mhsa_ref import corpus

    sentences = corpus.training_sentences()
    vocab = {w: i for i, w in enumerate(dict.fromkeys(t for s in sentences for t in s))}
    words = list(vocab)
    pairs = torch.cat([ref.skipgram_pairs(torch.tensor([vocab[w] for w in s]), 2) for s in sentences])
    row = ref.cooccurrence_counts(pairs, len(vocab))[vocab["bank"]]
    top = [(words[i], int(row[i])) for i in row.argsort(descending=True)[:5].tolist()]
    classes = corpus.word_classes()
    by_class = {kind: sum(int(row[vocab[w]]) for w in vocab if classes.get(w) == kind) for kind in ("money", "water")}
    return top, by_class, int(row.sum())


def bank_contexts_question(answer_bank_contexts: object) -> None:
    """Hidden: what the row of "bank" in the corpus's co-occurrence counts shows."""
    got = read_choice(answer_bank_contexts, "abc", what="answer_bank_contexts")
    top, by_class, total = _bank_row()
    shown = ", ".join(f"{w} {n}" for w, n in top)
    expect_answer(got, "a", name="bank_contexts_question",
                  summary=f"(a): the commonest contexts of \"bank\" are {shown}",
                  why=(f"your counts: the commonest contexts of \"bank\" are {shown}, of {total} in all; money words "
                       f"add up to {by_class['money']} and river words to {by_class['water']}. Both senses say \"the "
                       f"bank\", \"to the bank\", \"at the bank\", so the small words they share outweigh the words "
                       f"of either sense. SGNS learns from exactly these counts and gives \"bank\" one point: it ends "
                       f"up near what both senses share, and between the two senses (chapter 02)."),
                  wrong={"b": f"money words add up to {by_class['money']} of \"bank\"'s {total} context counts; the "
                              f"small words around it come first ({shown}).",
                         "c": f"river words add up to {by_class['water']} of \"bank\"'s {total} context counts; the "
                              f"small words around it come first ({shown})."})
