"""ELMo: the sentence moves the point (chapter 03).

Letters: B batch of sentences, T tokens per sentence, V vocabulary size, E embedding width,
H hidden width of each LSTM direction, L layers of representation (here 3: the token embedding
and two LSTM layers), D = 2H the width of each layer's vector.

A bidirectional language model reads a sentence twice: a forward LSTM predicts each next word
from the words before it, a backward LSTM predicts each previous word from the words after it.
Both share the token embedding and the output layer, as in ELMo (Peters et al., 2018). After
training, the vector of a word at position t in layer j is [forward_j(t); backward_j(t)], which
depends on the whole sentence: the same word in two sentences becomes two points. ELMo gives a
task the learned mix γ · Σ_j softmax(s)_j · h_j of the layers.
"""

from __future__ import annotations

import argparse
import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mhsa_ref import _validate
from mhsa_ref.backend import provenance, small_model_threads
from mhsa_ref.one_hot import build_vocab, encode

STORED = Path(__file__).resolve().parent / "data" / "elmo.pt"  # the course's biLM: `pretrained()`
COMMAND = "python -m mhsa_ref.elmo --train"  # what wrote it

IGNORE = -100  # the default ignore_index of F.cross_entropy: "no target here"
BOS, EOS, UNK = "<s>", "</s>", "<unk>"


def bidirectional_targets(ids: Tensor) -> tuple[Tensor, Tensor]:
    """What each position must predict: the next word (forward) and the previous word (backward).

    Args:
        ids: LongTensor (B, T) of word indices.
    Returns:
        fwd (B, T) with fwd[:, t] = ids[:, t+1] and IGNORE (−100) at the last position;
        bwd (B, T) with bwd[:, t] = ids[:, t−1] and IGNORE at the first position.
    """
    _validate.require_rank("ids", ids, 2, "(B, T)")
    fwd = torch.full_like(ids, IGNORE)  # (B, T)
    bwd = torch.full_like(ids, IGNORE)  # (B, T)
    fwd[:, :-1] = ids[:, 1:]
    bwd[:, 1:] = ids[:, :-1]
    return fwd, bwd


def perplexity(logits: Tensor, targets: Tensor) -> Tensor:
    """How many words a language model hesitates between: the exponential of its mean cross-entropy.

    A model that gives the right word probability 1/k at every position has perplexity k; a model
    that guesses uniformly among V words has perplexity V.

    Args:
        logits: (..., V) unnormalised scores for the word to predict at each position.
        targets: LongTensor (...) of the words to predict, IGNORE (−100) where there is none
            (as `bidirectional_targets` gives them).
    Returns:
        0-d tensor in logits' dtype: exp(mean of −log p(target) over the positions that have one).
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits (..., V) and targets (...) must agree on (...): got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")
    keep = targets != IGNORE  # (...)
    log_p = logits.log_softmax(-1)  # (..., V); log_softmax subtracts the max: no overflow
    picked = log_p.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)  # (...), any word where ignored
    # a masked sum rather than picked[keep]: boolean indexing has no shape on the meta device
    return (-(picked * keep).sum() / keep.sum()).exp()


def scalar_mix(layers: Tensor, s: Tensor, gamma: Tensor | float) -> Tensor:
    """ELMo's task-specific mix of layers: γ · Σ_j softmax(s)_j · h_j.

    Args:
        layers: (L, ..., D), the L layers' vectors stacked on a new first axis.
        s: (L,) unnormalised layer scores (learned).
        gamma: a scalar (a float or a 0-d tensor, learned) that scales the mix.
    Returns:
        (..., D); differentiable in s and gamma.
    """
    _validate.require_min_rank("layers", layers, 2, "(L, ..., D)")
    _validate.require_rank("s", s, 1, "(L,)")
    if s.size(0) != layers.size(0):
        raise ValueError(f"s must have one score per layer: layers has L={layers.size(0)}, s has {s.size(0)}")
    weights = torch.softmax(s, dim=0)  # (L,)
    weights = weights.view(-1, *([1] * (layers.dim() - 1)))  # (L, 1, ..., 1) to broadcast over (L, ..., D)
    return gamma * (weights * layers).sum(0)  # (..., D)


# --- what learners don't write: the biLM, its training, and ELMo vectors ------------------------------


class BiLM(nn.Module):
    """A small ELMo-style bidirectional language model.

    One token embedding (E = H) shared by both directions; a forward and a backward stack of
    `num_layers` single-layer LSTMs (kept separate so every layer's output is visible); one output
    layer shared by both directions.
    """

    def __init__(self, vocab_size: int, hidden: int = 32, num_layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, hidden)
        self.forward_lstms = nn.ModuleList(nn.LSTM(hidden, hidden, batch_first=True) for _ in range(num_layers))
        self.backward_lstms = nn.ModuleList(nn.LSTM(hidden, hidden, batch_first=True) for _ in range(num_layers))
        self.out = nn.Linear(hidden, vocab_size)

    def directions(self, ids: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """ids (B, T) -> embedding (B, T, H), forward layers [(B, T, H)], backward layers [(B, T, H)].

        Sentences in one batch have equal length (no padding), so the backward pass is the
        forward machinery applied to the sentence read right to left.
        """
        x = self.embed(ids)  # (B, T, H)
        fwd, h = [], x
        for lstm in self.forward_lstms:
            h = lstm(h)[0]  # (B, T, H)
            fwd.append(h)
        bwd, h = [], x.flip(1)  # read right to left
        for lstm in self.backward_lstms:
            h = lstm(h)[0]  # (B, T, H), position 0 = the last word
            bwd.append(h.flip(1))  # back to left-to-right positions
        return x, fwd, bwd

    def forward(self, ids: Tensor) -> Tensor:
        """The language-model loss of a batch of equal-length sentences ids (B, T)."""
        _, fwd, bwd = self.directions(ids)
        fwd_target, bwd_target = bidirectional_targets(ids)  # (B, T), (B, T)
        logits_f = self.out(fwd[-1])  # (B, T, V)
        logits_b = self.out(bwd[-1])  # (B, T, V)
        return (F.cross_entropy(logits_f.flatten(0, 1), fwd_target.flatten(), ignore_index=IGNORE)
                + F.cross_entropy(logits_b.flatten(0, 1), bwd_target.flatten(), ignore_index=IGNORE)) / 2

    def layers(self, ids: Tensor) -> Tensor:
        """ELMo's L = num_layers + 1 representations of every token: (L, B, T, 2H).

        Layer 0 is the token embedding, written twice ([x; x]) to have the width of the others;
        layer j ≥ 1 is [forward_j; backward_j].
        """
        x, fwd, bwd = self.directions(ids)
        stack = [torch.cat([x, x], -1)] + [torch.cat(pair, -1) for pair in zip(fwd, bwd)]  # L × (B, T, 2H)
        return torch.stack(stack)  # (L, B, T, 2H)


@dataclass
class ELMo:
    """A trained biLM with its vocabulary; `vectors` gives each token's layers in context."""

    vocab: dict[str, int]
    model: BiLM
    losses: list[float] = field(default_factory=list)
    trained: dict = field(default_factory=dict)  # a stored biLM's command, machine and date

    def ids(self, tokens: Sequence[str]) -> Tensor:
        """(1, T+2): the sentence between <s> and </s>; unknown words become <unk>."""
        return encode([BOS, *tokens, EOS], self.vocab, unknown=UNK).unsqueeze(0)

    @torch.no_grad()
    def vectors(self, tokens: Sequence[str]) -> Tensor:
        """(L, T, 2H): every layer's vector of each token of one sentence (markers dropped)."""
        self.model.eval()
        with small_model_threads():
            return self.model.layers(self.ids(tokens))[:, 0, 1:-1]  # (L, T, 2H)


def _batches(encoded: list[Tensor], batch_size: int, g: torch.Generator) -> list[Tensor]:
    """Shuffled batches of sentences of equal length, each (B, T): no padding anywhere."""
    by_length: dict[int, list[Tensor]] = {}
    for ids in encoded:
        by_length.setdefault(len(ids), []).append(ids)
    batches = []
    for group in by_length.values():
        stacked = torch.stack(group)  # (n, T)
        stacked = stacked[torch.randperm(len(group), generator=g)]
        batches += list(stacked.split(batch_size))
    order = torch.randperm(len(batches), generator=g).tolist()
    return [batches[i] for i in order]


def train_elmo(
    sentences: Sequence[Sequence[str]],
    *,
    hidden: int = 32,
    epochs: int = 6,
    batch_size: int = 64,
    lr: float = 0.01,
    seed: int = 0,
    tqdm_class: Callable | None = None,
) -> ELMo:
    """Train the biLM on `sentences` (each wrapped in <s> … </s>), reproducibly, with Adam.

    Args:
        sentences: lists of tokens (e.g. `mhsa_ref.corpus.sentences()`).
        tqdm_class: the progress bar (default `tqdm.auto.tqdm`).
    Returns:
        an `ELMo` with the trained model and the mean loss of each epoch.
    """
    if tqdm_class is None:
        from tqdm.auto import tqdm as tqdm_class
    g = torch.Generator().manual_seed(seed)
    vocab = build_vocab([BOS, EOS, UNK, *(t for s in sentences for t in s)])
    encoded = [encode([BOS, *s, EOS], vocab) for s in sentences]
    with torch.random.fork_rng(devices=[]):  # seed the initialisation without touching the caller's RNG
        torch.manual_seed(seed)
        model = BiLM(len(vocab), hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    with small_model_threads(), tqdm_class(total=epochs, desc="biLM", unit="epoch") as bar:
        for _ in range(epochs):
            total, seen = 0.0, 0
            for batch in _batches(encoded, batch_size, g):
                loss = model(batch)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total, seen = total + loss.item() * len(batch), seen + len(batch)
            losses.append(total / seen)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            bar.update(1)
    model.eval()
    return ELMo(vocab, model, losses)


def learn_scalar_mix(
    features: Tensor,
    labels: Tensor,
    *,
    steps: int = 300,
    lr: float = 0.05,
    seed: int = 0,
    mix: Callable[[Tensor, Tensor, Tensor], Tensor] = scalar_mix,
) -> tuple[Tensor, Tensor, list[float]]:
    """Learn the scalar mix (s, γ) and a linear classifier on top, for one task.

    Args:
        features: (L, N, D) the L layers' vectors of N examples (frozen).
        labels: (N,) class indices.
        mix: the mixing function (the learner's `scalar_mix` can be passed in).
    Returns:
        softmax(s) (L,), γ (0-d), and the accuracy on the training examples measured at each step
        (before its update; there is no held-out set).
    """
    s, gamma, _, accuracy = _fit_scalar_mix(features, labels, steps=steps, lr=lr, seed=seed, mix=mix)
    return torch.softmax(s, 0), gamma, accuracy


def _fit_scalar_mix(features: Tensor, labels: Tensor, *, steps: int, lr: float, seed: int,
                    mix: Callable[[Tensor, Tensor, Tensor], Tensor]) -> tuple[Tensor, Tensor, nn.Linear, list[float]]:
    """`learn_scalar_mix`'s training: the scores s (L,), γ, the trained classifier and the training accuracies."""
    num_layers, _, width = features.shape
    like = {"dtype": features.dtype, "device": features.device}
    s = torch.zeros(num_layers, **like, requires_grad=True)
    gamma = torch.ones((), **like, requires_grad=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = nn.Linear(width, int(labels.max()) + 1, **like)
    optimiser = torch.optim.Adam([s, gamma, *classifier.parameters()], lr=lr)
    accuracy = []
    with small_model_threads():
        for _ in range(steps):
            logits = classifier(mix(features, s, gamma))  # (N, classes)
            loss = F.cross_entropy(logits, labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            accuracy.append(float((logits.argmax(-1) == labels).float().mean()))
    return s.detach(), gamma.detach(), classifier, accuracy


def sense_probe(model: ELMo, *, steps: int = 300, seed: int = 0) -> dict:
    """Chapter 03's probe, measured on sentences it never saw: does a linear classifier on the biLM's mixed
    vectors tell the two senses of "bank" apart?

    Each distinct (sentence, position) of a "bank" counts once, in the part of its sentence
    (`corpus.sentence_parts`): the mix and the classifier learn on the training part's, and are scored on the
    held-out part's. Beside the score, two baselines on the same held-out examples: the commoner sense, and a
    rule that reads the sentence's words ("river" when it holds a river word, `corpus.word_classes`).
    Returns a dict: softmax(s) and γ, the training and held-out accuracies, the baselines, and the counts.
    """
    from mhsa_ref import corpus

    sentences, parts, classes = corpus.sentences(), corpus.sentence_parts(), corpus.word_classes()
    examples: dict[str, dict[tuple, str]] = {"training": {}, "held-out": {}}
    for line, pos, sense in corpus.bank_senses():
        if parts[line] in examples:
            examples[parts[line]].setdefault((tuple(sentences[line]), pos), sense)
    data = {}
    for part, chosen in examples.items():
        features = torch.stack([model.vectors(list(words))[:, pos] for words, pos in chosen], dim=1)  # (L, N, 2H)
        labels = torch.tensor([sense == "river" for sense in chosen.values()]).long()  # (N,)
        data[part] = (features, labels, list(chosen))
    s, gamma, classifier, accuracy = _fit_scalar_mix(data["training"][0], data["training"][1], steps=steps, lr=0.05,
                                                     seed=seed, mix=scalar_mix)
    features, labels, keys = data["held-out"]
    with torch.no_grad():
        predicted = classifier(scalar_mix(features, s, gamma)).argmax(-1)  # (N,)
    rule = torch.tensor([any(classes.get(w) == "water" for w in words) for words, _ in keys]).long()
    river = float(labels.float().mean())
    return {"weights": torch.softmax(s, 0), "gamma": gamma, "training_accuracy": accuracy[-1] if accuracy else None,
            "held_out_accuracy": float((predicted == labels).float().mean()),
            "majority_accuracy": max(river, 1 - river), "rule_accuracy": float((rule == labels).float().mean()),
            "training_examples": len(data["training"][2]), "held_out_examples": len(keys)}


def sense_mix(model: ELMo, *, steps: int = 300, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Chapter 03's learned mix: softmax(s) (L,) and γ, learned on "which sense of bank?" over the corpus.

    Every "bank" of the corpus, as `model`'s layer vectors in its own sentence, with its sense as
    the label, through `learn_scalar_mix`. The running figure's ELMo panel uses this mix in every
    chapter, so that it is always the same panel.
    """
    from mhsa_ref import corpus

    sentences, senses = corpus.sentences(), corpus.bank_senses()
    banks = torch.stack([model.vectors(sentences[line])[:, pos] for line, pos, _ in senses], dim=1)  # (L, N, 2H)
    labels = torch.tensor([sense == "river" for _, _, sense in senses]).long()  # (N,)
    weights, gamma, _ = learn_scalar_mix(banks, labels, steps=steps, seed=seed)
    return weights, gamma


def save(model: ELMo, path: Path = STORED) -> None:
    """Store a trained biLM with the command, machine and date that made it."""
    torch.save({"vocab": list(model.vocab), "hidden": model.model.embed.embedding_dim,
                "layers": len(model.model.forward_lstms), "state": model.model.state_dict(), "losses": model.losses,
                "trained": provenance(COMMAND)}, path)


def load(path: Path = STORED) -> ELMo:
    """A stored biLM (`save`), as it was trained, in eval mode."""
    saved = torch.load(path, weights_only=True)
    model = BiLM(len(saved["vocab"]), saved["hidden"], saved["layers"])
    model.load_state_dict(saved["state"])
    model.eval()
    return ELMo({w: i for i, w in enumerate(saved["vocab"])}, model, saved["losses"], saved["trained"])


def training_sentences() -> list[list[str]]:
    """What the course's biLM is trained on: the corpus's training part (`corpus.training_sentences`).

    No held-out or validation sentence of chapter 09 is in it, so the ladder's scores are on sentences it never saw.
    """
    from mhsa_ref import corpus

    return corpus.training_sentences()


@functools.lru_cache(maxsize=1)
def _pretrained() -> ELMo:
    return load()


def pretrained() -> ELMo:
    """The course's biLM: `train_elmo` with its defaults on `training_sentences()`, as stored.

    It ships in `mhsa_ref/data/elmo.pt` (`python -m mhsa_ref.elmo --train` writes it), so every machine
    shows the same vectors: trained again on another CPU, float32 kernels that sum in another order move
    its weights by up to about 1e-2 after its 6 epochs (benchmarks/bench_drift.py). Loaded once per
    process; a copy is returned, so a caller may change it freely.
    """
    return copy.deepcopy(_pretrained())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mhsa_ref.elmo", description="Train the course's biLM and store "
                                     f"it in {STORED.relative_to(STORED.parents[2])}.")
    parser.add_argument("--train", action="store_true", help="train with the defaults and write the file (seconds)")
    parser.add_argument("--out", type=Path, default=STORED)
    args = parser.parse_args(argv)
    if not args.train:
        parser.error("say --train to train the biLM and write it")
    model = train_elmo(training_sentences())
    save(model, args.out)
    print(f"wrote {args.out}: mean loss per epoch {[round(x, 4) for x in model.losses]}")


if __name__ == "__main__":
    main()
