"""Chapter 09: a trained layer answers the lecture note's question, "why several heads?", measured.

A tiny encoder: token embeddings + sinusoidal positions -> one multi-head self-attention layer (the
course's own, `multi_head_self_attention`) -> a residual sum, LayerNorm and a linear prediction of the
masked word. It learns masked-word prediction on the course corpus and on the masked-verb task
(`mhsa_ref.corpus.masked_verbs`): "she [counts] the coins that they left at the bank", where the
verb's form comes from the subject and its sense from the object, two places found by different
criteria (position; the word's class).

Two functions here are the learner's (exercise 09): `sinusoidal_positions` and `sense_separation`.
The rest is the course's machinery: the data, the encoder, training, the sweep over h and the ladder.

`python -m mhsa_ref.trained_heads --sweep` trains h ∈ {1, 2, 4, 8, 16} at d_model = 16 (equal
parameters) for several seeds, with and without positions, scores the course's ladder of
representations, and writes it all, with the machine and the date, to `mhsa_ref/data/trained_heads.json`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from mhsa_ref import _validate, corpus
from mhsa_ref.backend import small_model_threads

RESULTS_FILE = Path(__file__).resolve().parent / "data" / "trained_heads.json"
WEIGHTS_FILE = RESULTS_FILE.with_suffix(".pt")  # the ladder's two encoders, for the chapter's figures
PAD, MASK = "<pad>", "<mask>"
HEADS = (1, 2, 4, 8, 16)
SEEDS = (0, 1, 2, 3, 4)
D_MODEL = 16
CURVE_EVERY = 50  # steps between two measures of the held-out verb accuracy
HELD_OUT = 0.2  # the last fifth of each file: never seen in training


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


# ---------------------------------------------------------------------------------------------
# Data


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


def _split(rows: list) -> tuple[list, list]:
    cut = len(rows) - round(len(rows) * HELD_OUT)
    return rows[:cut], rows[cut:]


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


def task_rows() -> tuple[list, list]:
    """(training, held-out) rows of the masked-verb task: (tokens, verb position)."""
    return _split(corpus.masked_verbs())


def corpus_rows(seed: int) -> tuple[list, list]:
    """(training, held-out) rows of the corpus, each sentence with one position to mask drawn with `seed`."""
    g = torch.Generator().manual_seed(seed)
    rows = [(s, int(torch.randint(len(s), (), generator=g))) for s in corpus.sentences()]
    return _split(rows)


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

    def layer(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """X, Z′ (B, T, d_model) and the weights (B, h, T, T); padding is never attended to."""
        from mhsa_ref.concat_and_output import multi_head_self_attention

        x = self.inputs(ids)
        keys = torch.arange(ids.size(1)) < lengths.unsqueeze(1)  # (B, T): True at real words
        mask = keys.unsqueeze(1).expand(-1, ids.size(1), -1)  # (B, T, T)
        attend = self._attention or multi_head_self_attention
        z, weights = attend(x, self.w["q"], self.w["k"], self.w["v"], self.w["o"], self.num_heads, mask)
        return x, z, weights

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Logits of the masked word (B, vocab) and the layer's weights (B, h, T, T)."""
        x, z, weights = self.layer(batch.ids, batch.lengths)
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
    losses: list[float] = field(default_factory=list)
    curve: list[tuple[int, float, float, float]] = field(default_factory=list)  # (step, held-out verb, form, sense accuracy)
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


def train(num_heads: int = 8, *, seed: int = 0, positions: bool = True, steps: int = 1500, batch_size: int = 128,
          lr: float = 0.01, attention: AttentionFn | None = None,
          position_fn: Callable[[int, int], Tensor] | None = None) -> Trained:
    """Train the tiny encoder on masked words of the corpus and of the masked-verb task, reproducibly.

    Every batch holds as many task sentences (verb masked) as corpus sentences (one word masked), drawn
    with `seed` from the training parts only. Adam, `steps` steps, on one thread (same numbers on any
    machine with the same PyTorch).

    attention, position_fn: the learner's own layer and positional encodings, instead of the course's.
    """
    vocab = vocabulary()
    task, task_held_out = task_rows()
    text, _ = corpus_rows(seed)
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyEncoder(len(vocab.words), D_MODEL, num_heads,
                            positions=(position_fn or sinusoidal_positions) if positions else None, attention=attention)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses, start = [], time.perf_counter()
    model.train()
    half = batch_size // 2
    task_batch, text_batch = make_batch(vocab, task), make_batch(vocab, text)  # encoded once
    held_out = make_batch(vocab, task_held_out)
    verb_of = _verb_classes(vocab)
    curve = []
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
            if (step + 1) % CURVE_EVERY == 0:
                with torch.no_grad():
                    guess = model(held_out)[0].argmax(-1)
                curve.append((step + 1, *_verb_scores(guess, held_out.targets, verb_of)))
    model.eval()
    return Trained(model, vocab, num_heads, seed, positions, losses, curve, time.perf_counter() - start)


def _verb_classes(vocab: Vocabulary) -> dict[int, tuple[str, str]]:
    """Each masked verb's id -> (sense, number)."""
    return {vocab.index[verb]: key for key, verb in corpus.MASKED_VERBS.items()}


def _verb_scores(guess: Tensor, truth: Tensor, verb_of: dict[int, tuple[str, str]]) -> tuple[float, float, float]:
    """Held-out accuracy of the verb, of its form alone and of its sense alone (a non-verb guess gets neither)."""
    said = [verb_of.get(int(g), ("?", "?")) for g in guess]
    wanted = [verb_of[int(t)] for t in truth]
    n = len(wanted)
    return (float((guess == truth).double().mean()), sum(s[1] == w[1] for s, w in zip(said, wanted)) / n,
            sum(s[0] == w[0] for s, w in zip(said, wanted)) / n)


@torch.no_grad()
def evaluate(trained: Trained) -> dict[str, float]:
    """Held-out scores: the masked verb (loss, accuracy, and its form and its sense apart) and masked corpus words."""
    vocab, model = trained.vocab, trained.model
    _, task = task_rows()
    batch = make_batch(vocab, task)
    with small_model_threads():
        logits, _ = model(batch)
    verb, form, sense = _verb_scores(logits.argmax(-1), batch.targets, _verb_classes(vocab))
    out = {"verb_loss": float(nn.functional.cross_entropy(logits, batch.targets)), "verb_accuracy": verb,
           "form_accuracy": form, "sense_accuracy": sense}
    _, text = corpus_rows(seed=10_000)  # the same held-out positions for every run
    batch = make_batch(vocab, text)
    with small_model_threads():
        logits, _ = model(batch)
    out["corpus_loss"] = float(nn.functional.cross_entropy(logits, batch.targets))
    out["corpus_accuracy"] = float((logits.argmax(-1) == batch.targets).double().mean())
    return out


# ---------------------------------------------------------------------------------------------
# The ladder: "each step finds a better place", one score per representation of "bank"

SENSES = ("money", "river")


def bank_occurrences() -> tuple[list, list]:
    """(training, held-out) occurrences of "bank" in the corpus: (tokens, position, sense id)."""
    text = corpus.sentences()
    cut = len(text) - round(len(text) * HELD_OUT)  # the corpus's own held-out lines, as `_split` cuts them
    parts: tuple[list, list] = ([], [])
    for line, position, sense in corpus.bank_senses():
        parts[line >= cut].append((text[line], position, SENSES.index(sense)))
    return parts


def bank_points(represent: Callable[[Sequence[str]], Tensor], occurrences: list) -> tuple[Tensor, Tensor]:
    """(points (N, d), sense ids (N,)): `represent(tokens)` -> (T, d), read at each "bank".

    The corpus repeats its sentences (1,373 occurrences of "bank" in 302 distinct sentences): each
    distinct sentence is represented once.
    """
    seen: dict[tuple[str, ...], Tensor] = {}
    for tokens, _, _ in occurrences:
        if tuple(tokens) not in seen:
            seen[tuple(tokens)] = represent(tokens)
    points = [seen[tuple(tokens)][position] for tokens, position, _ in occurrences]
    return torch.stack(points).double(), torch.tensor([s for _, _, s in occurrences])


def bank_separation(represent: Callable[[Sequence[str]], Tensor]) -> float:
    """The sense separation of "bank" in one representation: training centroids, held-out points."""
    train_rows, test_rows = bank_occurrences()
    (a, sa), (b, sb) = (bank_points(represent, rows) for rows in (train_rows, test_rows))
    return sense_separation(a, sa, b, sb)


def ladder_representations(single: Trained, several: Trained, *, space=None, bilm=None
                           ) -> dict[str, Callable[[Sequence[str]], Tensor]]:
    """The course's representations of a sentence's words, from one-hot to Z′, each (T, d).

    space, bilm: the word2vec space and the ELMo biLM; by default the course's (chapters 02 and 03, seed 0)
    trained on the corpus's training part only, like the encoders, so that no rung has seen a held-out sentence.
    """
    from mhsa_ref.elmo import train_elmo
    from mhsa_ref.figures import NoProgress
    from mhsa_ref.one_hot import build_vocab, encode, one_hot
    from mhsa_ref.word2vec import train_word2vec

    vocab = build_vocab(t for s in corpus.sentences() for t in s)
    seen, _ = _split(corpus.sentences())
    space = space or train_word2vec(seen, seed=0, tqdm_class=NoProgress)
    bilm = bilm or train_elmo(seen, seed=0, tqdm_class=NoProgress)
    return {
        "one-hot": lambda tokens: one_hot(encode(tokens, vocab), len(vocab)).double(),
        "word2vec": lambda tokens: torch.stack([space[t] for t in tokens]),
        "ELMo": lambda tokens: bilm.vectors(tokens)[-1],  # the top layer, both directions
        "Z′, 1 head": single.output,
        f"Z′, {several.num_heads} heads": several.output,
    }


def ladder(single: Trained, several: Trained) -> list[dict]:
    """Each representation's sense separation of "bank" on held-out corpus sentences."""
    train_rows, test_rows = bank_occurrences()
    return [{"representation": name, "sense_separation": bank_separation(represent),
             "train_points": len(train_rows), "test_points": len(test_rows)}
            for name, represent in ladder_representations(single, several).items()]


# ---------------------------------------------------------------------------------------------
# The sweep


def run(num_heads: int, seed: int, positions: bool = True, **kw) -> tuple[Trained, dict]:
    trained = train(num_heads, seed=seed, positions=positions, **kw)
    return trained, {"num_heads": num_heads, "d_k": D_MODEL // num_heads, "seed": seed, "positions": positions,
                     "steps": len(trained.losses), "curve": trained.curve, "seconds": round(trained.seconds, 2),
                     **evaluate(trained), "bank_separation": bank_separation(trained.output)}


def sweep(heads: Sequence[int] = HEADS, seeds: Sequence[int] = SEEDS, *, without_positions: Sequence[int] = (1, 8),
          log: Callable[[str], None] = print) -> tuple[dict, dict[int, Trained]]:
    """Every (h, seed) with positions, the heads in `without_positions` without, and the ladder.

    Returns the results, and the two encoders of the ladder (1 head and 8, the first seed) by number of heads.
    """
    several = 8 if 8 in heads else max(heads)
    runs, kept = [], {}
    configs = [(h, s, True) for h in heads for s in seeds] + [(h, s, False) for h in without_positions for s in seeds]
    for h, s, p in configs:
        trained, row = run(h, s, p)
        runs.append(row)
        if p and s == seeds[0] and h in (1, several):
            kept[h] = trained
        log(f"h={h:>2} seed={s} positions={p!s:>5}: verb accuracy {row['verb_accuracy']:.3f} "
            f"(form {row['form_accuracy']:.3f}, sense {row['sense_accuracy']:.3f}), loss {row['verb_loss']:.3f}, "
            f"corpus loss {row['corpus_loss']:.3f}, bank separation {row['bank_separation']:.3f}, {row['seconds']:.1f} s")
    rungs = ladder(kept[1], kept[several])
    return {
        "what": "chapter 09's sweep: the tiny encoder (d_model = 16) for each number of heads and seed; held-out "
                "scores on the masked-verb task and the corpus; the ladder of sense separation of 'bank'",
        "command": "python -m mhsa_ref.trained_heads --sweep",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip() + f", {torch.get_num_threads()} "
                   f"threads available, one used; Python {platform.python_version()}, torch {torch.__version__}",
        "date": datetime.date.today().isoformat(),
        "d_model": D_MODEL, "training": {"steps": runs[0]["steps"], "batch_size": 128, "lr": 0.01},
        "runs": runs,
        "ladder": {"single": {"num_heads": 1, "seed": seeds[0]}, "several": {"num_heads": several, "seed": seeds[0]},
                   "scores": rungs},
    }, kept


def save_weights(models: dict[int, Trained], path: Path = WEIGHTS_FILE) -> None:
    """The encoders' weights, keyed by number of heads, with the vocabulary and how each was trained."""
    torch.save({"vocabulary": models[next(iter(models))].vocab.words,
                "models": {h: {"state": t.model.state_dict(), "seed": t.seed, "positions": t.positions,
                               "steps": len(t.losses)} for h, t in models.items()}}, path)


def load(num_heads: int, path: Path = WEIGHTS_FILE) -> Trained:
    """A stored encoder of the sweep (h = 1 or 8, seed 0): the chapter draws it without training it."""
    saved = torch.load(path, weights_only=True)
    if num_heads not in saved["models"]:
        raise ValueError(f"no stored encoder with {num_heads} heads; stored: {sorted(saved['models'])}")
    entry, vocab = saved["models"][num_heads], Vocabulary(saved["vocabulary"])
    model = TinyEncoder(len(vocab.words), D_MODEL, num_heads,
                        positions=sinusoidal_positions if entry["positions"] else None)
    model.load_state_dict(entry["state"])
    model.eval()
    return Trained(model, vocab, num_heads, entry["seed"], entry["positions"])


def stored() -> dict:
    """The sweep as the repository ships it (written by `python -m mhsa_ref.trained_heads --sweep`)."""
    return json.loads(RESULTS_FILE.read_text(encoding="utf-8"))


CURVE_COLUMNS = {"verb": 1, "form": 2, "sense": 3}  # a curve's points: (step, verb, form, sense accuracy)


def steps_to(curve: Sequence[Sequence[float]], level: float = 0.99, *, of: str = "verb") -> int | None:
    """The first step at which a learning curve's accuracy `of` the verb, its form or its sense reaches `level`."""
    column = CURVE_COLUMNS[of]
    return next((int(point[0]) for point in curve if point[column] >= level), None)


def summary(results: dict, *, positions: bool = True) -> list[dict]:
    """Mean, minimum and maximum over seeds of each score, per number of heads.

    steps_to_99, form_steps_to_99, sense_steps_to_99: the steps until the held-out accuracy of the verb, of
    its form alone and of its sense alone first reaches 99 % (over the seeds that reach it).
    """
    out = []
    rows = [r for r in results["runs"] if r["positions"] == positions]
    for h in sorted({r["num_heads"] for r in rows}):
        mine = [r for r in rows if r["num_heads"] == h]
        entry = {"num_heads": h, "d_k": mine[0]["d_k"], "seeds": len(mine)}
        reached = {of: [steps_to(r["curve"], of=of) for r in mine] for of in CURVE_COLUMNS}
        entry["never_reached_99"] = sum(s is None for s in reached["verb"])
        steps = {"steps_to_99": "verb", "form_steps_to_99": "form", "sense_steps_to_99": "sense"}
        for key in ("verb_accuracy", "verb_loss", "form_accuracy", "sense_accuracy", "corpus_loss", "bank_separation",
                    "seconds", *steps):
            values = [r[key] for r in mine] if key not in steps else [s for s in reached[steps[key]] if s is not None]
            if not values:
                entry[key] = None
                continue
            entry[key] = {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}
        out.append(entry)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mhsa_ref.trained_heads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true", help="train every configuration and write the JSON")
    parser.add_argument("--out", type=Path, default=RESULTS_FILE, help=f"where to write it (default {RESULTS_FILE})")
    parser.add_argument("--heads", type=int, nargs="+", default=list(HEADS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    args = parser.parse_args(argv)
    if not args.sweep:
        parser.error("say --sweep to train every configuration (a few minutes)")
    start = time.perf_counter()
    results, encoders = sweep(args.heads, args.seeds)
    results["sweep_seconds"] = round(time.perf_counter() - start, 1)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    save_weights(encoders, args.out.with_suffix(".pt"))
    print(f"wrote {args.out} and {args.out.with_suffix('.pt')} in {results['sweep_seconds']} s")


if __name__ == "__main__":
    main()
