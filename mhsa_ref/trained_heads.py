"""Chapter 09: a trained layer answers the lecture note's question, "why several heads?", measured.

Two experiments, each one command that writes its results with the machine and the date:

* **The masked verb** (`python -m mhsa_ref.trained_heads --sweep`, `trained_heads.json`). A tiny encoder
  (embeddings + sinusoidal positions -> the course's `multi_head_self_attention` -> residual, LayerNorm,
  a prediction of the masked word) learns masked words of the corpus and of the masked-verb task
  (`corpus.masked_verbs`: "the farmer said that she [counts] the coins that they left at the bank"),
  whose verb takes its form from the word just before it and its sense from the object's class. For
  h ∈ {1, 2, 4, 8, 16} at d_model = 16 (equal parameters), each h gets its learning rate from a small
  grid, chosen on validation sentences with the same budget for every h, then 5 seeds; with and
  without positions; what each head of h ∈ {2, 4, 8} looks at and what breaks when it is removed
  (after Voita et al. 2019 and Michel et al. 2019); the ladder of sense separation of "bank", over
  every seed.
* **Two places, two maps** (`python -m mhsa_ref.trained_heads --two-places`, `two_places.json`). A task
  that one head cannot do at any width: y_t = c_{t-1}[0] + c_{t-2}[1] on random vectors c, which
  needs two places read through two different linear maps, while one head has one softmax per query
  and one value map. Width-1 heads fail it too: with d_k = 1 a query ranks every key in one order or
  its reverse. The same h, learning-rate grid and seeds.

Every score is measured on sentences (or sequences) that no model trained on: the corpus and the task
are split by distinct sentence (`corpus.parts`), 70 % training, 10 % validation, 20 % held out.

The learner's functions (exercise 09): `sinusoidal_positions`, `position_shift`, `sense_separation`
and `remove_heads`. The rest is the course's machinery.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from mhsa_ref import _validate, corpus
from mhsa_ref.backend import provenance, small_model_threads

DATA = Path(__file__).resolve().parent / "data"
RESULTS_FILE = DATA / "trained_heads.json"
WEIGHTS_FILE = DATA / "trained_heads.pt"  # the encoders the chapter and exercise 09 read (seed 0 of every h, ...)
TWO_PLACES_FILE = DATA / "two_places.json"
PAD, MASK = "<pad>", "<mask>"
HEADS = (1, 2, 4, 8, 16)
SEEDS = (0, 1, 2, 3, 4)
LEARNING_RATES = (0.003, 0.01, 0.03)  # the grid each h chooses from
CHOOSING_SEEDS = (0,)  # the seed that chooses it, on validation data: 3 runs for every h; it is also the first of SEEDS
D_MODEL = 16
STEPS, BATCH_SIZE = 1500, 128
CURVE_EVERY = 50  # steps between two measures of the verb accuracy (validation and held out)
ROLE_HEADS = (2, 4, 8)  # the h whose every head is read and removed
STORED_ENCODERS = [(h, 0) for h in HEADS] + [(8, 1)]  # (h, seed) whose weights ship; (8, 1) is exercise 09's
SENSES = ("money", "river")


# ---------------------------------------------------------------------------------------------
# The learner's functions (exercise 09)


def sinusoidal_positions(seq_len: int, d_model: int) -> Tensor:
    """The sinusoidal positional encodings of Vaswani et al. (2017), section 3.5: (seq_len, d_model), float32.

    PE[p, 2i] = sin(p / 10000^(2i / d_model)) and PE[p, 2i + 1] = cos(p / 10000^(2i / d_model)),
    for positions p = 0 … seq_len − 1: pair i turns at its own frequency, from one radian per position
    (i = 0) down to nearly nothing, so every position gets its own pattern and a fixed offset is a fixed
    rotation of each pair.
    """
    for name, value in (("seq_len", seq_len), ("d_model", d_model)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    if d_model % 2:
        raise ValueError(f"d_model must be even (sin and cos come in pairs); got {d_model}")
    position = torch.arange(seq_len, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    rate = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d_model/2,)
    angle = position * rate  # (T, d_model/2)
    pe = torch.empty(seq_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe.float()


def position_shift(offset: int, d_model: int) -> Tensor:
    """The matrix that moves every sinusoidal position by `offset`: PE[p] @ M = PE[p + offset], for every p.

    Pair i of PE[p] is (sin pω_i, cos pω_i), a point on a circle; moving to p + k turns it by the angle
    kω_i, whatever p. So M is block-diagonal, one 2×2 rotation per pair, and depends on the offset
    only: a layer can learn "the word k places back" as one linear map of the positions.

    Args:
        offset: k, any int (negative moves back).
        d_model: an even width.
    Returns:
        (d_model, d_model) float32, with blocks [[cos kω_i, −sin kω_i], [sin kω_i, cos kω_i]] on the
        diagonal, for a row vector times M.
    """
    if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be a positive even int (sin and cos come in pairs); got {d_model!r}")
    rate = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d_model/2,) the ω_i
    cos, sin = torch.cos(offset * rate), torch.sin(offset * rate)  # (d_model/2,)
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    even = torch.arange(0, d_model, 2)  # the sin column 2i of each pair; 2i + 1 is its cos
    # sin(p+k)ω = sin pω cos kω + cos pω sin kω;  cos(p+k)ω = cos pω cos kω − sin pω sin kω
    m[even, even], m[even + 1, even] = cos, sin
    m[even, even + 1], m[even + 1, even + 1] = -sin, cos
    return m.float()


def sense_separation(train_points: Tensor, train_senses: Tensor, test_points: Tensor, test_senses: Tensor) -> float:
    """How well a representation separates senses: nearest-centroid accuracy on held-out points.

    Each sense's centroid is the mean of its training points; each test point is given the sense of
    the nearest centroid (Euclidean distance; a tie goes to the smaller sense id); the score is the
    share of test points given their own sense, a float in [0, 1].

    Args:
        train_points: (N, d); train_senses: (N,) integer sense ids, 0 … C − 1.
        test_points: (M, d); test_senses: (M,), every id also among the training senses.
    """
    for name, points in (("train_points", train_points), ("test_points", test_points)):
        _validate.require_rank(name, points, 2, "(points, features)")
        _validate.require_floating(name, points)
    for name, senses, points in (("train_senses", train_senses, train_points), ("test_senses", test_senses, test_points)):
        _validate.require_rank(name, senses, 1, "(points,)")
        if senses.dtype.is_floating_point or senses.dtype == torch.bool:
            raise ValueError(f"{name} must hold integer sense ids; got {senses.dtype}")
        if senses.numel() != points.size(0):
            raise ValueError(f"{name} has {senses.numel()} ids for {points.size(0)} points; give one per point")
    if train_points.size(0) == 0 or test_points.size(0) == 0:
        raise ValueError("sense_separation needs at least one training point and one test point")
    if train_points.size(1) != test_points.size(1):
        raise ValueError(f"train_points and test_points must have the same width; got {train_points.size(1)} "
                         f"and {test_points.size(1)}")
    if int(train_senses.min()) < 0 or int(test_senses.min()) < 0:
        raise ValueError("sense ids must be 0 … C − 1; got a negative id")
    classes = int(train_senses.max()) + 1
    seen = torch.bincount(train_senses, minlength=classes) > 0
    unseen = sorted(set(test_senses.tolist()) - set(torch.nonzero(seen).flatten().tolist()))
    if unseen:
        raise ValueError(f"every test sense needs training points (ids 0 … C − 1); no training point has sense {unseen}")
    sums = torch.zeros(classes, train_points.size(1), dtype=torch.float64).index_add_(
        0, train_senses, train_points.double())  # (C, d)
    centroids = sums / torch.bincount(train_senses, minlength=classes).clamp(min=1).unsqueeze(1)
    distance = torch.cdist(test_points.double(), centroids)  # (M, C)
    distance[:, ~seen] = math.inf
    return float((distance.argmin(dim=1) == test_senses).double().mean())


def remove_heads(w_o: Tensor, heads: Sequence[int], num_heads: int) -> Tensor:
    """W^O with the given heads removed from the concatenation: a copy whose rows of those heads are 0.

    The layer's output is concat(Z_0, …, Z_{h-1}) W^O, and head i's block Z_i meets only rows
    i·d_k … (i+1)·d_k − 1 of W^O. Zeroing those rows removes head i's contribution and nothing else,
    as if its block of the concatenation were 0 (Michel et al. 2019 mask heads the same way).

    Args:
        w_o: (d_model, d_model), used as concat @ w_o.
        heads: the indices of the heads to remove, each in 0 … num_heads − 1 (at least one).
        num_heads: h; d_model must be divisible by it.
    Returns:
        (d_model, d_model) on w_o's device and dtype; w_o itself is not changed.
    """
    _validate.require_rank("w_o", w_o, 2, "(d_model, d_model)")
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"num_heads must be a positive int; got {num_heads!r}")
    _validate.check_heads(w_o.size(0), num_heads)
    heads = list(heads)
    if not heads:
        raise ValueError(f"heads is empty; give the indices of the heads to remove, each in 0 … {num_heads - 1}")
    wrong = [i for i in heads if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < num_heads]
    if wrong:
        raise ValueError(f"heads {wrong} are not head indices of a layer with num_heads={num_heads}; "
                         f"each must be an int in 0 … {num_heads - 1}")
    d_k = w_o.size(0) // num_heads
    out = w_o.clone()
    for i in heads:
        out[i * d_k:(i + 1) * d_k] = 0  # head i's rows: what its block of the concatenation meets
    return out


# ---------------------------------------------------------------------------------------------
# Data: the corpus and the masked-verb task, split by distinct sentence (corpus.parts)


@dataclass
class Vocabulary:
    """The encoder's words and their ids. Not `one_hot.build_vocab`: that is a learner function, withheld in
    the learner kit, where exercise 09's last cell trains this encoder."""

    words: list[str]

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def encode(self, tokens: Sequence[str]) -> list[int]:
        unknown = [t for t in tokens if t not in self.index]
        if unknown:
            raise ValueError(f"words outside the encoder's vocabulary: {unknown}; it knows the corpus and the "
                             f"masked-verb task ({len(self.words)} words)")
        return [self.index[t] for t in tokens]


def vocabulary() -> Vocabulary:
    """<pad>, <mask>, then every word of the corpus and of the masked-verb task, in order of appearance."""
    seen = dict.fromkeys([PAD, MASK])
    for tokens in corpus.sentences():
        seen.update(dict.fromkeys(tokens))
    for tokens, _ in corpus.masked_verbs():
        seen.update(dict.fromkeys(tokens))
    return Vocabulary(list(seen))


def _check_part(part: str) -> None:
    if part not in corpus.PARTS:
        raise ValueError(f"part must be one of {corpus.PARTS}; got {part!r}")


def task_rows(part: str = "held-out") -> list[tuple[list[str], int]]:
    """The masked-verb task's rows of one part: (tokens, verb position).

    "training" keeps every copy of a sentence (the task's own frequencies); "validation" and
    "held-out" hold each distinct sentence once.
    """
    _check_part(part)
    rows = corpus.masked_verbs()
    kept = [row for row, p in zip(rows, corpus.parts([t for t, _ in rows])) if p == part]
    if part == "training":
        return kept
    return [(list(t), p) for t, p in dict.fromkeys((tuple(t), p) for t, p in kept)]


def corpus_rows(part: str = "held-out", seed: int = 10_000) -> list[tuple[list[str], int]]:
    """The corpus's rows of one part, each sentence with one position to mask, drawn with `seed`.

    "training" keeps every copy of a sentence (each with its own position); the others hold each
    distinct sentence once, with positions drawn by the default seed, the same for every run.
    """
    _check_part(part)
    g = torch.Generator().manual_seed(seed)
    chosen = corpus.training_sentences() if part == "training" else corpus.distinct_sentences(part)
    return [(s, int(torch.randint(len(s), (), generator=g))) for s in chosen]


@dataclass
class Batch:
    ids: Tensor  # (B, T) with the masked position replaced by <mask>, padded with <pad>
    targets: Tensor  # (B,) the masked word's id
    position: Tensor  # (B,) where the mask is
    lengths: Tensor  # (B,)


def make_batch(vocab: Vocabulary, rows: Sequence[tuple[Sequence[str], int]]) -> Batch:
    """Sentences with one position each to mask: the batch the encoder reads."""
    T = max(len(tokens) for tokens, _ in rows)
    ids = torch.full((len(rows), T), vocab.index[PAD], dtype=torch.long)
    for b, (tokens, _) in enumerate(rows):
        ids[b, :len(tokens)] = torch.tensor(vocab.encode(tokens))
    position = torch.tensor([p for _, p in rows])
    lengths = torch.tensor([len(tokens) for tokens, _ in rows])
    if bool((position >= lengths).any() or (position < 0).any()):
        raise ValueError("a position to mask lies outside its sentence")
    rows_ = torch.arange(len(rows))
    targets = ids[rows_, position].clone()
    ids[rows_, position] = vocab.index[MASK]
    return Batch(ids, targets, position, lengths)


def _select(batch: Batch, index: Tensor) -> Batch:
    T = int(batch.lengths[index].max())
    return Batch(batch.ids[index, :T], batch.targets[index], batch.position[index], batch.lengths[index])


def _join(a: Batch, b: Batch) -> Batch:
    T = max(a.ids.size(1), b.ids.size(1))
    pad = lambda ids: nn.functional.pad(ids, (0, T - ids.size(1)))  # <pad> is id 0
    return Batch(torch.cat([pad(a.ids), pad(b.ids)]), torch.cat([a.targets, b.targets]),
                 torch.cat([a.position, b.position]), torch.cat([a.lengths, b.lengths]))


def form_of(word: str) -> str:
    """The verb form a subject word takes: "-s" after she, he and "the {person}", "no -s" after I, we and they."""
    return "-s" if word in corpus.SINGULAR_SUBJECTS + corpus.PEOPLE else "no -s"


def first_person_rule(tokens: Sequence[str]) -> str:
    """A rule baseline: the form of the sentence's first person word (pronoun or person), as if it were the subject."""
    return form_of(next(t for t in tokens if t in corpus.SUBJECTS + corpus.PEOPLE))


def verb_form(tokens: Sequence[str], position: int) -> str:
    """The form the masked verb at `position` takes: that of the word just before it."""
    return form_of(tokens[position - 1])


# ---------------------------------------------------------------------------------------------
# The encoder


AttentionFn = Callable[..., tuple[Tensor, Tensor]]


class TinyEncoder(nn.Module):
    """Embeddings + positions -> one multi-head self-attention layer -> LayerNorm(x + Z′) -> word logits.

    `attention` is a functional layer with the signature of exercise 07's
    `multi_head_self_attention(x, w_q, w_k, w_v, w_o, num_heads, mask)`: the course's by default, or
    the learner's own. `positions` gives the (T, d_model) encodings (None: no positions at all).
    """

    def __init__(self, vocab_size: int, d_model: int = D_MODEL, num_heads: int = 8, *,
                 positions: Callable[[int, int], Tensor] | None = sinusoidal_positions,
                 attention: AttentionFn | None = None) -> None:
        super().__init__()
        _validate.check_heads(d_model, num_heads)
        self.d_model, self.num_heads = d_model, num_heads
        self.positions, self._attention = positions, attention
        self.embed = nn.Embedding(vocab_size, d_model)
        self.w = nn.ParameterDict({name: nn.Parameter(torch.randn(d_model, d_model) / math.sqrt(d_model))
                                   for name in ("q", "k", "v", "o")})  # (d_model, d_model), used as x @ w
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def inputs(self, ids: Tensor) -> Tensor:
        """X: (B, T, d_model), each token's embedding plus its position's encoding."""
        x = self.embed(ids)
        if self.positions is not None:
            x = x + self.positions(ids.size(1), self.d_model).to(x)
        return x

    def layer(self, ids: Tensor, lengths: Tensor, w_o: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """X, Z′ (B, T, d_model) and the weights (B, h, T, T); padding is never attended to.

        w_o: another W^O in place of the trained one (`remove_heads` gives one without some heads).
        """
        from mhsa_ref.concat_and_output import multi_head_self_attention

        x = self.inputs(ids)
        keys = torch.arange(ids.size(1)) < lengths.unsqueeze(1)  # (B, T): True at real words
        mask = keys.unsqueeze(1).expand(-1, ids.size(1), -1)  # (B, T, T)
        attend = self._attention or multi_head_self_attention
        z, weights = attend(x, self.w["q"], self.w["k"], self.w["v"], self.w["o"] if w_o is None else w_o,
                            self.num_heads, mask)
        return x, z, weights

    def forward(self, batch: Batch, w_o: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Logits of the masked word (B, vocab) and the layer's weights (B, h, T, T)."""
        x, z, weights = self.layer(batch.ids, batch.lengths, w_o)
        rows = torch.arange(len(batch.ids))
        hidden = self.norm(x[rows, batch.position] + z[rows, batch.position])  # (B, d_model)
        return self.out(hidden), weights


@dataclass
class Trained:
    """A trained encoder, its vocabulary, and how it was trained."""

    model: TinyEncoder
    vocab: Vocabulary
    num_heads: int
    seed: int
    positions: bool
    lr: float = 0.01
    losses: list[float] = field(default_factory=list)
    # (step, verb, form, sense accuracy) every CURVE_EVERY steps, on the validation and the held-out sentences
    curves: dict[str, list[tuple[int, float, float, float]]] = field(default_factory=dict)
    seconds: float = 0.0

    def _sentence(self, tokens: Sequence[str]) -> tuple[Tensor, Tensor]:
        """ids (1, T) and lengths (1,) of one sentence."""
        return torch.tensor([self.vocab.encode(tokens)]), torch.tensor([len(tokens)])

    @torch.no_grad()
    def heads(self, tokens: Sequence[str]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One sentence through the trained layer: X (T, d), Z′ (T, d), V's heads and Z's heads (h, T, d_k)."""
        from mhsa_ref.split_heads import split_heads

        x, z_out, weights = self.model.layer(*self._sentence(tokens))
        v = split_heads(x @ self.model.w["v"], self.num_heads)[0]  # (h, T, d_k)
        return x[0], z_out[0], v, (weights[0] @ v)  # Z's heads: each head's weighted average of its values

    @torch.no_grad()
    def output(self, tokens: Sequence[str]) -> Tensor:
        """Z′ (T, d): the layer's output for one sentence, the encoder's rung of the ladder."""
        return self.model.layer(*self._sentence(tokens))[1][0]

    @torch.no_grad()
    def fill(self, tokens: Sequence[str]) -> str:
        """The word the encoder puts at the sentence's one <mask>."""
        if list(tokens).count(MASK) != 1:
            raise ValueError(f"fill needs a sentence with exactly one {MASK}; got {' '.join(tokens)!r}")
        ids, lengths = self._sentence(tokens)
        batch = Batch(ids, torch.zeros(1, dtype=torch.long), torch.tensor([list(tokens).index(MASK)]), lengths)
        return self.vocab.words[int(self.model(batch)[0].argmax())]

    @torch.no_grad()
    def weights(self, tokens: Sequence[str]) -> Tensor:
        """(h, T, T): each head's attention weights over one sentence."""
        return self.model.layer(*self._sentence(tokens))[2][0]


def train(num_heads: int = 8, *, seed: int = 0, positions: bool = True, steps: int = STEPS,
          batch_size: int = BATCH_SIZE, lr: float = 0.01, attention: AttentionFn | None = None,
          position_fn: Callable[[int, int], Tensor] | None = None, curves: bool = True) -> Trained:
    """Train the tiny encoder on masked words of the corpus and of the masked-verb task, reproducibly.

    Every batch holds as many task sentences (verb masked) as corpus sentences (one word masked), drawn
    with `seed` from the training parts only. Adam, `steps` steps, on one thread. Every CURVE_EVERY steps
    the verb accuracy is measured on the validation and the held-out sentences (curves=False skips it).

    attention, position_fn: the learner's own layer and positional encodings, instead of the course's.
    """
    vocab = vocabulary()
    task, text = task_rows("training"), corpus_rows("training", seed)
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyEncoder(len(vocab.words), D_MODEL, num_heads,
                            positions=(position_fn or sinusoidal_positions) if positions else None, attention=attention)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses, measured, start = [], {"validation": [], "held-out": []}, time.perf_counter()
    model.train()
    half = batch_size // 2
    task_batch, text_batch = make_batch(vocab, task), make_batch(vocab, text)  # encoded once
    watched = {part: make_batch(vocab, task_rows(part)) for part in measured} if curves else {}
    verb_of = _verb_classes(vocab)
    with small_model_threads():
        for step in range(steps):
            batch = _join(_select(task_batch, torch.randint(len(task), (half,), generator=g)),
                          _select(text_batch, torch.randint(len(text), (half,), generator=g)))
            logits, _ = model(batch)
            loss = loss_fn(logits, batch.targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            if watched and (step + 1) % CURVE_EVERY == 0:
                with torch.no_grad():
                    for part, rows in watched.items():
                        measured[part].append((step + 1, *_verb_scores(model(rows)[0].argmax(-1), rows.targets,
                                                                       verb_of)))
    model.eval()
    return Trained(model, vocab, num_heads, seed, positions, lr, losses, measured if curves else {},
                   time.perf_counter() - start)


def _verb_classes(vocab: Vocabulary) -> dict[int, tuple[str, str]]:
    """Each masked verb's id -> (sense, number)."""
    return {vocab.index[verb]: key for key, verb in corpus.MASKED_VERBS.items()}


def _verb_scores(guess: Tensor, truth: Tensor, verb_of: dict[int, tuple[str, str]]) -> tuple[float, float, float]:
    """Accuracy of the verb, of its form alone and of its sense alone (a non-verb guess gets neither)."""
    said = [verb_of.get(int(g), ("?", "?")) for g in guess]
    wanted = [verb_of[int(t)] for t in truth]
    n = len(wanted)
    return (float((guess == truth).double().mean()), sum(s[1] == w[1] for s, w in zip(said, wanted)) / n,
            sum(s[0] == w[0] for s, w in zip(said, wanted)) / n)


@torch.no_grad()
def verb_scores(trained: Trained, part: str = "held-out", w_o: Tensor | None = None) -> dict[str, float]:
    """The masked verb's accuracy, form accuracy and sense accuracy on one part, with W^O replaced by `w_o` if given."""
    batch = make_batch(trained.vocab, task_rows(part))
    with small_model_threads():
        logits, _ = trained.model(batch, w_o)
    verb, form, sense = _verb_scores(logits.argmax(-1), batch.targets, _verb_classes(trained.vocab))
    return {"verb_accuracy": verb, "form_accuracy": form, "sense_accuracy": sense,
            "verb_loss": float(nn.functional.cross_entropy(logits, batch.targets))}


@torch.no_grad()
def evaluate(trained: Trained, part: str = "held-out") -> dict[str, float]:
    """Scores on one part: the masked verb (loss, accuracy, its form and its sense apart) and masked corpus words."""
    out = verb_scores(trained, part)
    batch = make_batch(trained.vocab, corpus_rows(part))  # the same positions for every run
    with small_model_threads():
        logits, _ = trained.model(batch)
    out["corpus_loss"] = float(nn.functional.cross_entropy(logits, batch.targets))
    out["corpus_accuracy"] = float((logits.argmax(-1) == batch.targets).double().mean())
    return out


# ---------------------------------------------------------------------------------------------
# Which heads do what, and which matter (Voita et al. 2019; Michel et al. 2019)

ROLE_COLUMNS = ("subject", "money object", "river object", "itself", "entropy / log T")


@torch.no_grad()
def head_roles(trained: Trained, part: str = "held-out") -> list[dict[str, float]]:
    """Where each head looks from the masked verb, averaged over one part's task sentences.

    Per head: the weight on the subject (the word just before the verb), on the object when it is a
    money word and when it is a river word, on the masked verb itself, and the entropy of that row, in
    nats and over log T (0: all on one word; 1: spread evenly over the sentence's T words).
    """
    rows = task_rows(part)
    batch = make_batch(trained.vocab, rows)
    with small_model_threads():
        _, weights = trained.model(batch)  # (B, h, T, T)
    b = torch.arange(len(rows))
    verb_rows = weights[b, :, batch.position]  # (B, h, T): each head's row of the masked verb
    objects = batch.position + 2  # "{verb} the {object}"
    money = torch.tensor([tokens[p + 2] in corpus.MONEY for tokens, p in rows])
    on = lambda where: verb_rows[b, :, where]  # (B, h)  # noqa: E731
    entropy = -(verb_rows * verb_rows.clamp_min(1e-12).log()).sum(-1)  # (B, h), in nats
    columns = {"subject": on(batch.position - 1), "money object": on(objects)[money],
               "river object": on(objects)[~money], "itself": on(batch.position), "entropy": entropy,
               "entropy / log T": entropy / batch.lengths.double().log().unsqueeze(1)}
    return [{name: float(values[:, i].mean()) for name, values in columns.items()} for i in range(trained.num_heads)]


def ablation(trained: Trained, part: str = "held-out") -> list[dict[str, float]]:
    """Per head: the scores of one part with that head removed from the concatenation (`remove_heads`)."""
    w_o = trained.model.w["o"].detach()
    return [verb_scores(trained, part, remove_heads(w_o, [i], trained.num_heads)) for i in range(trained.num_heads)]


def pruning(trained: Trained) -> list[dict]:
    """Michel et al.'s greedy pruning: remove, one at a time, the head whose removal costs the least.

    Each step chooses on the validation sentences and reports the held-out verb, form and sense
    accuracy, from all heads kept down to one.
    """
    w_o, h = trained.model.w["o"].detach(), trained.num_heads
    removed: list[int] = []
    curve = [{"removed": [], **verb_scores(trained)}]
    while len(removed) < h - 1:
        def kept_accuracy(i: int) -> float:
            return verb_scores(trained, "validation", remove_heads(w_o, removed + [i], h))["verb_accuracy"]

        best = max((i for i in range(h) if i not in removed), key=kept_accuracy)
        removed.append(best)
        curve.append({"removed": list(removed), **verb_scores(trained, "held-out", remove_heads(w_o, removed, h))})
    return curve


# ---------------------------------------------------------------------------------------------
# The ladder: one score per representation of "bank", on held-out sentences


def bank_occurrences(part: str = "held-out") -> list[tuple[list[str], int, int]]:
    """The occurrences of "bank" in one part of the corpus, each distinct sentence once: (tokens, position, sense id).

    Once each on both sides of the score: the grammar repeats "the bank paid interest on the savings" 82 times,
    and counted by its copies it would pull the money centroid to itself.
    """
    _check_part(part)
    text, parts = corpus.sentences(), corpus.sentence_parts()
    found = dict.fromkeys((tuple(text[line]), position, SENSES.index(sense))
                          for line, position, sense in corpus.bank_senses() if parts[line] == part)
    return [(list(t), p, s) for t, p, s in found]


def bank_points(represent: Callable[[Sequence[str]], Tensor], occurrences: list) -> tuple[Tensor, Tensor]:
    """(points (N, d), sense ids (N,)): `represent(tokens)` -> (T, d), read at each "bank".

    Each distinct sentence is represented once, however often it occurs.
    """
    seen: dict[tuple[str, ...], Tensor] = {}
    for tokens, _, _ in occurrences:
        if tuple(tokens) not in seen:
            seen[tuple(tokens)] = represent(tokens)
    points = [seen[tuple(tokens)][position] for tokens, position, _ in occurrences]
    return torch.stack(points).double(), torch.tensor([s for _, _, s in occurrences])


def bank_separation(represent: Callable[[Sequence[str]], Tensor]) -> float:
    """The sense separation of "bank" in one representation: training centroids, held-out points."""
    (a, sa), (b, sb) = (bank_points(represent, bank_occurrences(part)) for part in ("training", "held-out"))
    return sense_separation(a, sa, b, sb)


def rung_representations(*, space=None, bilm=None) -> dict[str, Callable[[Sequence[str]], Tensor]]:
    """The ladder's rungs before attention, each sentence -> (T, d): one-hot, word2vec, ELMo's top layer.

    space, bilm: a word2vec space and a biLM; by default the course's (`pretrained()`), trained on the
    corpus's training part only.
    """
    from mhsa_ref import elmo, word2vec
    from mhsa_ref.one_hot import encode, one_hot

    space = space or word2vec.pretrained()
    bilm = bilm or elmo.pretrained()
    vocab = {w: i for i, w in enumerate(dict.fromkeys(t for s in corpus.sentences() for t in s))}
    return {
        "one-hot": lambda tokens: one_hot(encode(tokens, vocab), len(vocab)).double(),
        "word2vec": lambda tokens: torch.stack([space[t] for t in tokens]),
        "ELMo": lambda tokens: bilm.vectors(tokens)[-1],  # the top layer, both directions
    }


# ---------------------------------------------------------------------------------------------
# Two places, two maps: a task one head cannot do


TWO_T, CONTENT = 8, 8  # positions per sequence; content width (one-hot positions take the other 8 of d_model)
TWO_STEPS, TWO_BATCH = 2000, 256
TWO_EVAL = 1024  # validation and held-out sequences each, drawn with seeds of their own
TWO_CURVE_EVERY = 250
# What y_t reads from the two places before it (t = 2 … T − 1): the same number of heads must read two places
# through two different maps. "one number" is the scalar of the derivation; "two numbers" needs rank 2 from each
# place, which one head's softmax cannot supply (chapter 09 derives both).
TARGETS = ("one number", "two numbers")


def two_places_target(content: Tensor, target: str) -> Tensor:
    """y (n, T − 2, outputs) from content (n, T, 8): "one number" y_t = c_{t−1}[0] + c_{t−2}[1];
    "two numbers" y_t = (c_{t−1}[0] + c_{t−2}[2], c_{t−1}[1] + c_{t−2}[3])."""
    before, two_before = content[:, 1:-1], content[:, :-2]  # c_{t−1}, c_{t−2} for t = 2 … T − 1
    if target == "one number":
        return (before[..., 0] + two_before[..., 1]).unsqueeze(-1)
    if target == "two numbers":
        return torch.stack([before[..., 0] + two_before[..., 2], before[..., 1] + two_before[..., 3]], dim=-1)
    raise ValueError(f"target must be one of {TARGETS}; got {target!r}")


def two_places_data(n: int, seed: int, target: str = "two numbers") -> tuple[Tensor, Tensor]:
    """n random sequences: content (n, T, 8) ~ N(0, I), and their target (n, T − 2, outputs)."""
    g = torch.Generator().manual_seed(seed)
    content = torch.randn(n, TWO_T, CONTENT, generator=g)
    return content, two_places_target(content, target)


class TwoPlaces(nn.Module):
    """X = [c_t ; one-hot(t)] (d_model = 16) -> the course's layer -> ŷ_t = Z′_t R + b, read at t ≥ 2."""

    def __init__(self, num_heads: int, outputs: int = 2, attention: AttentionFn | None = None) -> None:
        super().__init__()
        _validate.check_heads(D_MODEL, num_heads)
        self.num_heads, self._attention = num_heads, attention
        self.w = nn.ParameterDict({name: nn.Parameter(torch.randn(D_MODEL, D_MODEL) / math.sqrt(D_MODEL))
                                   for name in ("q", "k", "v", "o")})
        self.readout = nn.Linear(D_MODEL, outputs)

    def forward(self, content: Tensor) -> tuple[Tensor, Tensor]:
        """content (B, T, 8) -> predictions (B, T − 2, outputs), weights (B, h, T, T)."""
        from mhsa_ref.concat_and_output import multi_head_self_attention

        where = torch.eye(TWO_T, dtype=content.dtype).expand(content.size(0), -1, -1)  # (B, T, T)
        x = torch.cat([content, where], dim=-1)  # (B, T, 16)
        attend = self._attention or multi_head_self_attention
        z, weights = attend(x, self.w["q"], self.w["k"], self.w["v"], self.w["o"], self.num_heads)
        return self.readout(z)[:, 2:], weights


def two_places_error(model: TwoPlaces, content: Tensor, target: Tensor) -> float:
    """Mean squared error over the target's variance: 0 is perfect, 1 is no better than predicting 0."""
    with torch.no_grad(), small_model_threads():
        return float(((model(content)[0] - target) ** 2).mean() / target.var())


@dataclass
class TwoPlacesRun:
    model: TwoPlaces
    num_heads: int
    seed: int
    lr: float
    target: str
    curves: dict[str, list[tuple[int, float]]]  # (step, error) on the validation and held-out sequences
    seconds: float


def train_two_places(num_heads: int, *, target: str = "two numbers", seed: int = 0, lr: float = 0.01,
                     steps: int = TWO_STEPS, batch_size: int = TWO_BATCH,
                     attention: AttentionFn | None = None) -> TwoPlacesRun:
    """Train TwoPlaces with Adam on fresh random sequences each step (drawn with `seed`), on one thread."""
    watched = {"validation": two_places_data(TWO_EVAL, 10_001, target),
               "held-out": two_places_data(TWO_EVAL, 10_002, target)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TwoPlaces(num_heads, watched["validation"][1].size(-1), attention)
    g = torch.Generator().manual_seed(1_000 + seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    curves: dict[str, list] = {part: [] for part in watched}
    start = time.perf_counter()
    with small_model_threads():
        for step in range(steps):
            content = torch.randn(batch_size, TWO_T, CONTENT, generator=g)
            loss = ((model(content)[0] - two_places_target(content, target)) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if (step + 1) % TWO_CURVE_EVERY == 0:
                for part, (c, y) in watched.items():
                    curves[part].append((step + 1, two_places_error(model, c, y)))
    return TwoPlacesRun(model, num_heads, seed, lr, target, curves, time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------
# The sweeps: a learning rate for each h, chosen on validation data with the same budget, then every seed


def steps_to(curve: Sequence[Sequence[float]], level: float = 0.99, *, of: str = "verb") -> int | None:
    """The first step at which a learning curve's accuracy `of` the verb, its form or its sense reaches `level`."""
    column = CURVE_COLUMNS[of]
    return next((int(point[0]) for point in curve if point[column] >= level), None)


CURVE_COLUMNS = {"verb": 1, "form": 2, "sense": 3}  # a curve's points: (step, verb, form, sense accuracy)


def _encoder_run(config: tuple) -> tuple[dict, dict | None]:
    """One encoder of the sweep, in a worker process: its row, and its weights (for the stored encoders)."""
    h, seed, positions, lr = config
    trained = train(h, seed=seed, positions=positions, lr=lr)
    row = {"num_heads": h, "d_k": D_MODEL // h, "seed": seed, "positions": positions, "lr": lr,
           "steps": len(trained.losses), "seconds": round(trained.seconds, 2), "curves": trained.curves,
           **evaluate(trained), "bank_separation": bank_separation(trained.output),
           "validation": evaluate(trained, "validation")}
    if positions and h in ROLE_HEADS:
        row["roles"] = head_roles(trained)
        row["ablation"] = ablation(trained)
        row["pruning"] = pruning(trained)
    keep = positions and (h, seed) in STORED_ENCODERS
    return row, ({"state": trained.model.state_dict(), "lr": lr} if keep else None)


def _ladder_run(config: tuple) -> dict:
    """word2vec or the biLM trained with one seed on the training part, and its sense separation of "bank"."""
    from mhsa_ref import elmo, word2vec
    from mhsa_ref.figures import NoProgress

    name, seed = config
    if name == "word2vec":
        model = word2vec.train_word2vec(word2vec.training_sentences(), seed=seed, tqdm_class=NoProgress)
        score = bank_separation(lambda tokens: torch.stack([model[t] for t in tokens]))
    else:
        model = elmo.train_elmo(elmo.training_sentences(), seed=seed, tqdm_class=NoProgress)
        score = bank_separation(lambda tokens: model.vectors(tokens)[-1])
    return {"representation": name, "seed": seed, "sense_separation": score}


def _two_places_run(config: tuple) -> dict:
    target, h, seed, lr = config
    run = train_two_places(h, target=target, seed=seed, lr=lr)
    stored = (h, seed) in ((1, 0), (2, 0), (16, 0)) and target == "two numbers"
    return {"target": target, "num_heads": h, "d_k": D_MODEL // h, "seed": seed, "lr": lr, "steps": TWO_STEPS,
            "seconds": round(run.seconds, 2), "curves": run.curves, "validation_error": run.curves["validation"][-1][1],
            "error": run.curves["held-out"][-1][1],
            "state": {k: v.tolist() for k, v in run.model.state_dict().items()} if stored else None}


def _in_workers(fn: Callable, configs: list, workers: int, log: Callable[[str], None], what: str) -> list:
    """fn over configs, in `workers` fresh processes (each run on one thread, so their numbers do not depend on it)."""
    if workers <= 1:
        out = []
        for i, config in enumerate(configs):
            out.append(fn(config))
            log(f"{what} {i + 1}/{len(configs)}: {config}")
        return out
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        out = []
        for i, result in enumerate(pool.map(fn, configs)):
            out.append(result)
            log(f"{what} {i + 1}/{len(configs)}: {configs[i]}")
        return out


def _choice(rows: list[dict], score: Callable[[dict], float], key: Callable[[dict], object] = lambda r: r["num_heads"]
            ) -> dict:
    """The learning rate of each configuration (by `key`) whose choosing runs score lowest on average (ties: the
    smaller rate)."""
    chosen = {}
    for k in sorted({key(r) for r in rows}, key=str):
        by_lr = {lr: [score(r) for r in rows if key(r) == k and r["lr"] == lr] for lr in LEARNING_RATES}
        chosen[k] = min(LEARNING_RATES, key=lambda lr: (sum(by_lr[lr]) / len(by_lr[lr]), lr))
    return chosen


def _validation_steps(row: dict) -> float:
    """The choosing score of an encoder: steps until the validation verb accuracy first reaches 99 % (the budget
    and one more measure if never), then the final validation loss to break ties."""
    reached = steps_to(row["curves"]["validation"])
    return (reached if reached is not None else row["steps"] + CURVE_EVERY) + row["validation"]["verb_loss"]


def sweep(heads: Sequence[int] = HEADS, seeds: Sequence[int] = SEEDS, *, without_positions: Sequence[int] = (1, 8),
          workers: int = 2, log: Callable[[str], None] = print) -> tuple[dict, dict]:
    """The masked-verb sweep. Returns the results and the stored encoders' weights, keyed by (h, seed)."""
    choosing = [(h, s, True, lr) for h in heads for lr in LEARNING_RATES for s in CHOOSING_SEEDS]
    results = _in_workers(_encoder_run, choosing, workers, log, "choosing")
    chosen = _choice([r for r, _ in results], _validation_steps)
    rest = [(h, s, True, chosen[h]) for h in heads for s in seeds if s not in CHOOSING_SEEDS]
    rest += [(h, s, False, chosen[h]) for h in without_positions if h in chosen for s in seeds]
    results += _in_workers(_encoder_run, rest, workers, log, "seeds")
    ladder = _in_workers(_ladder_run, [(n, s) for n in ("word2vec", "ELMo") for s in seeds], workers, log, "ladder")
    runs = [r for r, _ in results if r["lr"] == chosen[r["num_heads"]] or not r["positions"]]
    weights = {(r["num_heads"], r["seed"]): w for r, w in results if w is not None and r["lr"] == chosen[r["num_heads"]]}
    one_hot = bank_separation(rung_representations()["one-hot"])
    return {
        "what": "chapter 09's masked-verb sweep: the tiny encoder (d_model = 16) for each number of heads and seed, "
                "its learning rate chosen per h on validation sentences; held-out scores; the roles of the heads of "
                "h = 2, 4, 8; the ladder of sense separation of 'bank'",
        **provenance("python -m mhsa_ref.trained_heads --sweep"),
        "d_model": D_MODEL, "training": {"steps": STEPS, "batch_size": BATCH_SIZE, "learning_rates": LEARNING_RATES,
                                         "choosing_seeds": CHOOSING_SEEDS},
        "chosen_lr": {str(h): lr for h, lr in chosen.items()},
        "choosing": [{k: r[k] for k in ("num_heads", "seed", "lr", "seconds")} |
                     {"validation_steps_to_99": steps_to(r["curves"]["validation"]),
                      "validation_verb_loss": r["validation"]["verb_loss"]} for r, _ in results if r["positions"]
                     and r["seed"] in CHOOSING_SEEDS],
        "runs": runs,
        "ladder": {"one-hot": one_hot, "seeds": ladder,
                   "points": {part: len(bank_occurrences(part)) for part in ("training", "held-out")}},
    }, weights


def two_places_sweep(heads: Sequence[int] = HEADS, seeds: Sequence[int] = SEEDS, *, scalar_heads: Sequence[int] = (1, 2),
                     workers: int = 2, log: Callable[[str], None] = print) -> dict:
    """The two-places sweep: "two numbers" for every h, "one number" for `scalar_heads`; each configuration's
    learning rate chosen on validation sequences, then every seed."""
    configs = [("two numbers", h) for h in heads] + [("one number", h) for h in scalar_heads]
    choosing = [(t, h, s, lr) for t, h in configs for lr in LEARNING_RATES for s in CHOOSING_SEEDS]
    results = _in_workers(_two_places_run, choosing, workers, log, "choosing")
    key = lambda r: (r["target"], r["num_heads"])  # noqa: E731
    chosen = _choice(results, lambda r: r["validation_error"], key)
    results += _in_workers(_two_places_run, [(t, h, s, chosen[t, h]) for t, h in configs for s in seeds
                                             if s not in CHOOSING_SEEDS], workers, log, "seeds")
    return {
        "what": "chapter 09's two places, two maps: y_t read from c_{t-1} and c_{t-2} through two different maps, on "
                "random 8-wide vectors with one-hot positions (d_model = 16), for each number of heads and seed; "
                f"error = MSE / Var(y) on {TWO_EVAL:,} held-out sequences",
        **provenance("python -m mhsa_ref.trained_heads --two-places"),
        "d_model": D_MODEL, "positions": TWO_T, "training": {"steps": TWO_STEPS, "batch_size": TWO_BATCH,
                                                             "learning_rates": LEARNING_RATES},
        "chosen_lr": [{"target": t, "num_heads": h, "lr": lr} for (t, h), lr in chosen.items()],
        "choosing": [{k: r[k] for k in ("target", "num_heads", "seed", "lr", "validation_error")} for r in results
                     if r["seed"] in CHOOSING_SEEDS],
        "runs": [r for r in results if r["lr"] == chosen[key(r)]],
    }


# ---------------------------------------------------------------------------------------------
# Stored results


def save_weights(weights: dict, path: Path = WEIGHTS_FILE) -> None:
    """The stored encoders' weights, keyed by "h/seed", with the vocabulary."""
    torch.save({"vocabulary": vocabulary().words,
                "models": {f"{h}/{s}": {"state": w["state"], "lr": w["lr"], "num_heads": h, "seed": s}
                           for (h, s), w in weights.items()}}, path)


def load(num_heads: int, seed: int = 0, path: Path = WEIGHTS_FILE, *, attention: AttentionFn | None = None) -> Trained:
    """A stored encoder of the sweep (seed 0 of every h, and h = 8, seed 1): drawn without training it.

    attention: the layer to run it with (the learner's own, in exercise 09); the course's by default.
    """
    saved = torch.load(path, weights_only=True)
    key = f"{num_heads}/{seed}"
    if key not in saved["models"]:
        raise ValueError(f"no stored encoder with num_heads={num_heads}, seed={seed}; stored (h/seed): "
                         f"{sorted(saved['models'], key=lambda k: tuple(map(int, k.split('/'))))}")
    entry, vocab = saved["models"][key], Vocabulary(saved["vocabulary"])
    model = TinyEncoder(len(vocab.words), D_MODEL, num_heads, attention=attention)
    model.load_state_dict(entry["state"])
    model.eval()
    return Trained(model, vocab, num_heads, seed, True, entry["lr"])


def stored() -> dict:
    """The masked-verb sweep as the repository ships it (`python -m mhsa_ref.trained_heads --sweep`)."""
    return json.loads(RESULTS_FILE.read_text(encoding="utf-8"))


def stored_two_places() -> dict:
    """The two-places sweep as the repository ships it (`python -m mhsa_ref.trained_heads --two-places`)."""
    return json.loads(TWO_PLACES_FILE.read_text(encoding="utf-8"))


def load_two_places(num_heads: int, seed: int = 0) -> TwoPlaces:
    """A stored two-places model of the "two numbers" target (seed 0 of h = 1, 2 and 16)."""
    run = next((r for r in stored_two_places()["runs"] if r["num_heads"] == num_heads and r["seed"] == seed
                and r["state"]), None)
    if run is None:
        raise ValueError(f"no stored two-places model with num_heads={num_heads}, seed={seed}; stored: h = 1, 2 and "
                         f"16, seed 0")
    model = TwoPlaces(num_heads)
    model.load_state_dict({k: torch.tensor(v) for k, v in run["state"].items()})
    return model.eval()


def spread(values: Sequence[float]) -> dict[str, float] | None:
    """Mean, minimum and maximum of some seeds' values (None for none)."""
    values = list(values)
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)} if values else None


def summary(results: dict, *, positions: bool = True) -> list[dict]:
    """Mean, minimum and maximum over seeds of each score, per number of heads.

    steps_to_99 (and form_, sense_): the steps until the held-out accuracy of the verb (of its form, of its
    sense) first reaches 99 %, over the seeds that reach it; seconds_to_99: those steps in seconds, at each
    run's own pace (its seconds over its steps).
    """
    out = []
    rows = [r for r in results["runs"] if r["positions"] == positions]
    for h in sorted({r["num_heads"] for r in rows}):
        mine = [r for r in rows if r["num_heads"] == h]
        entry = {"num_heads": h, "d_k": mine[0]["d_k"], "seeds": len(mine), "lr": mine[0]["lr"]}
        reached = {of: [steps_to(r["curves"]["held-out"], of=of) for r in mine] for of in CURVE_COLUMNS}
        entry["never_reached_99"] = sum(s is None for s in reached["verb"])
        for key in ("verb_accuracy", "verb_loss", "form_accuracy", "sense_accuracy", "corpus_loss", "corpus_accuracy",
                    "bank_separation", "seconds"):
            entry[key] = spread([r[key] for r in mine])
        for of in CURVE_COLUMNS:
            entry[f"{of}_steps_to_99" if of != "verb" else "steps_to_99"] = spread(
                [s for s in reached[of] if s is not None])
        entry["seconds_to_99"] = spread([s * r["seconds"] / r["steps"] for s, r in zip(reached["verb"], mine)
                                         if s is not None])
        out.append(entry)
    return out


def two_places_summary(results: dict, target: str = "two numbers") -> list[dict]:
    """Per number of heads, for one target: the held-out error over seeds (mean, minimum, maximum), seconds per run."""
    out = []
    rows = [r for r in results["runs"] if r["target"] == target]
    for h in sorted({r["num_heads"] for r in rows}):
        mine = [r for r in rows if r["num_heads"] == h]
        out.append({"num_heads": h, "d_k": mine[0]["d_k"], "lr": mine[0]["lr"], "seeds": len(mine),
                    "error": spread([r["error"] for r in mine]), "seconds": spread([r["seconds"] for r in mine])})
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mhsa_ref.trained_heads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true", help="the masked-verb sweep: write trained_heads.json and .pt")
    parser.add_argument("--two-places", action="store_true", help="the two-places sweep: write two_places.json")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes training at once, one thread each (default: 2; the numbers do not depend on it)")
    parser.add_argument("--heads", type=int, nargs="+", default=list(HEADS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--out", type=Path, help="where to write the JSON (default: the shipped file)")
    args = parser.parse_args(argv)
    if not (args.sweep or args.two_places):
        parser.error("say --sweep or --two-places (a few minutes each)")
    start = time.perf_counter()
    if args.sweep:
        results, weights = sweep(args.heads, args.seeds, workers=args.workers)
        out = args.out or RESULTS_FILE
        save_weights(weights, out.with_suffix(".pt"))
    else:
        results = two_places_sweep(args.heads, args.seeds, workers=args.workers)
        out = args.out or TWO_PLACES_FILE
    results["sweep_seconds"] = round(time.perf_counter() - start, 1)
    results["workers"] = args.workers
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} in {results['sweep_seconds']} s")


if __name__ == "__main__":
    main()
