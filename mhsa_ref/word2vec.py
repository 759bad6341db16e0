"""word2vec: dense points learned from context, by skip-gram with negative sampling (chapter 02).

Letters: N tokens in a sentence, P (center, context) pairs, V vocabulary size, D vector width,
B batch of pairs, K negatives per pair.

Skip-gram asks each word (the center) to predict the words within `window` positions of it (its
context). Negative sampling turns that into binary questions: is (center, context) a real pair,
or is the context a word drawn from a noise distribution? Words that occur in the same contexts
end up with similar vectors, so they become near points.
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

STORED = Path(__file__).resolve().parent / "data" / "word2vec.pt"  # the course's space: `pretrained()`
COMMAND = "python -m mhsa_ref.word2vec --train"  # what wrote it


def skipgram_pairs(ids: Tensor, window: int) -> Tensor:
    """Every (center, context) pair of one sentence.

    Rows are ordered by center position, then by offset -window..-1, 1..window; a context
    position that falls off either end of the sentence gives no pair.

    Args:
        ids: LongTensor (N,), the word indices of one sentence.
        window: how many positions on each side count as context (≥ 1).
    Returns:
        LongTensor (P, 2) of (center id, context id) rows on ids' device; P = 0 for N = 1.
    """
    _validate.require_rank("ids", ids, 1, "(N,)")
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int; got {window!r}")
    n = ids.size(0)
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)]).to(ids.device)  # (2w,)
    centers = torch.arange(n, device=ids.device).unsqueeze(1).expand(n, offsets.numel())  # (N, 2w)
    contexts = centers + offsets  # (N, 2w)
    inside = (contexts >= 0) & (contexts < n)  # (N, 2w); row-major order = center, then offset
    return torch.stack([ids[centers[inside]], ids[contexts[inside]]], dim=1)  # (P, 2)


def cooccurrence_counts(pairs: Tensor, vocab_size: int) -> Tensor:
    """How often each word is seen in the context of each other word: the counts skip-gram learns from.

    Levy and Goldberg (2014) showed that SGNS implicitly factorises a matrix built from these counts
    (their shifted pointwise mutual information), so this matrix is what word2vec "sees" of a corpus.

    Args:
        pairs: LongTensor (P, 2) of (center id, context id) rows, e.g. from `skipgram_pairs`.
        vocab_size: V; every id lies in 0..V-1.
    Returns:
        LongTensor (V, V) on pairs' device: counts[c, o] = the number of rows equal to (c, o).
    """
    _validate.require_rank("pairs", pairs, 2, "(P, 2)")
    if pairs.size(1) != 2:
        raise ValueError(f"pairs must be (P, 2) rows of (center, context); got {tuple(pairs.shape)}")
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long, device=pairs.device)  # (V, V)
    ones = torch.ones(pairs.size(0), dtype=torch.long, device=pairs.device)  # (P,)
    # accumulate=True adds every row, repeated rows included (plain indexing would keep one of them)
    return counts.index_put_((pairs[:, 0].long(), pairs[:, 1].long()), ones, accumulate=True)


def noise_distribution(counts: Tensor, power: float = 0.75) -> Tensor:
    """The distribution negatives are drawn from: counts^power, normalised to sum to 1.

    A power below 1 flattens the unigram distribution: rare words are drawn more often than
    their frequency, frequent ones less (0.75 is the value of Mikolov et al., 2013).

    Args:
        counts: (V,) how often each word occurs (integers or floats, ≥ 0, not all 0).
        power: the exponent (0.75 by default).
    Returns:
        (V,) probabilities in counts' dtype (float32 for integer counts).
    """
    _validate.require_rank("counts", counts, 1, "(V,)")
    weights = counts if counts.is_floating_point() else counts.to(torch.float32)
    weights = weights.pow(power)  # (V,)
    return weights / weights.sum()


def sgns_loss(center: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
    """The skip-gram negative-sampling loss, averaged over the batch.

    loss = mean_b −[ log σ(c_b · o_b) + Σ_k log σ(−c_b · n_bk) ], with log σ computed by
    `F.logsigmoid`, which stays finite where log(sigmoid(x)) underflows to log(0) = −inf.

    Args:
        center: (B, D) vectors of the center words.
        context: (B, D) vectors of their true context words.
        negatives: (B, K, D) vectors of K noise words per pair.
    Returns:
        a scalar tensor.
    """
    _validate.require_rank("center", center, 2, "(B, D)")
    _validate.require_rank("context", context, 2, "(B, D)")
    _validate.require_rank("negatives", negatives, 3, "(B, K, D)")
    batch, width = center.shape
    if context.shape != center.shape or negatives.size(0) != batch or negatives.size(2) != width:
        raise ValueError(f"expected center (B, D), context (B, D), negatives (B, K, D); got "
                         f"{tuple(center.shape)}, {tuple(context.shape)}, {tuple(negatives.shape)}")
    positive = (center * context).sum(-1)  # (B,)
    negative = (negatives @ center.unsqueeze(-1)).squeeze(-1)  # (B, K)
    return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1)).mean()


# --- what learners don't write: the model, its training, and queries --------------------------------


class SkipGram(nn.Module):
    """Two tables of D-wide vectors: one for words as centers, one for words as contexts.

    The center table is the word's point; the context table only serves training.
    """

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.center = nn.Embedding(vocab_size, dim)
        self.context = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.center.weight, -0.5 / dim, 0.5 / dim)  # word2vec's initialisation
        nn.init.zeros_(self.context.weight)

    def forward(self, pairs: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """pairs (B, 2) and negatives (B, K) of word ids -> the arguments of `sgns_loss`."""
        return self.center(pairs[:, 0]), self.context(pairs[:, 1]), self.context(negatives)  # (B, D), (B, D), (B, K, D)


@dataclass
class Word2Vec:
    """A trained word2vec space: the vocabulary and one D-wide point per word."""

    vocab: dict[str, int]
    vectors: Tensor  # (V, D)
    losses: list[float] = field(default_factory=list)  # mean loss of each epoch
    trained: dict = field(default_factory=dict)  # a stored space's command, machine and date

    @property
    def words(self) -> list[str]:
        return list(self.vocab)

    def __getitem__(self, word: str) -> Tensor:
        return self.vectors[self.vocab[word]]  # (D,)

    def neighbours(self, word: str, k: int = 5) -> list[tuple[str, float]]:
        """The k words whose vectors have the highest cosine with `word`'s (the word itself excluded)."""
        return nearest_neighbours(self.vectors, self.vocab, word, k)


def nearest_neighbours(vectors: Tensor, vocab: dict[str, int], word: str, k: int = 5) -> list[tuple[str, float]]:
    """The k nearest words to `word` by cosine similarity, best first, as (word, cosine)."""
    if word not in vocab:
        raise KeyError(f"{word!r} is not in the vocabulary; try one of {list(vocab)[:8]} ...")
    # PyTorch's cosine, not chapter 01's: the learner environment leaves the course's answers out (grader.kit)
    cos = F.cosine_similarity(vectors[vocab[word]].unsqueeze(0), vectors, dim=-1)  # (V,)
    cos[vocab[word]] = -2.0  # never its own neighbour
    best = cos.topk(min(k, len(vocab) - 1))
    words = list(vocab)
    return [(words[i], round(float(c), 4)) for c, i in zip(best.values, best.indices)]


def subsample_keep_probability(counts: Tensor, threshold: float) -> Tensor:
    """(V,) probability of keeping each occurrence of a word: min(1, √(t / f)), f its frequency.

    This is the subsampling rule of Mikolov et al. (2013), "Distributed representations of words
    and phrases": an occurrence of a word of frequency f is discarded with probability 1 − √(t/f).
    Frequent words ("the", "a") are thinned out, so pairs carry more meaning per step.
    """
    freq = counts.to(torch.float64) / counts.sum()
    return (threshold / freq.clamp_min(1e-12)).sqrt().clamp(max=1.0)


def train_word2vec(
    sentences: Sequence[Sequence[str]],
    *,
    dim: int = 24,
    window: int = 2,
    negatives: int = 5,
    epochs: int = 5,
    batch_size: int = 256,
    lr: float = 0.01,
    subsample: float = 1e-3,
    seed: int = 0,
    loss_fn: Callable[[Tensor, Tensor, Tensor], Tensor] = sgns_loss,
    pairs_fn: Callable[[Tensor, int], Tensor] = skipgram_pairs,
    noise_fn: Callable[[Tensor, float], Tensor] = noise_distribution,
    tqdm_class: Callable | None = None,
) -> Word2Vec:
    """Train skip-gram with negative sampling on `sentences`, reproducibly.

    Each epoch subsamples frequent words (the rule of `subsample_keep_probability`, threshold
    `subsample`; 0 turns it off), forms the pairs of every sentence with `skipgram_pairs`, shuffles
    them, and for each batch draws `negatives` noise words per pair from
    `noise_distribution(counts, 0.75)`. Adam minimises `loss_fn`. The learner's own `sgns_loss`,
    `skipgram_pairs` and `noise_distribution` can be passed in as `loss_fn`, `pairs_fn` and `noise_fn`. Everything random comes from `seed`: the sampling from a generator of its own, the
    initial vectors from a forked RNG, so the caller's global RNG is left as it was.

    Args:
        sentences: lists of tokens (e.g. `mhsa_ref.corpus.sentences()`).
        tqdm_class: the progress bar (default `tqdm.auto.tqdm`: a widget in JupyterLab, text elsewhere).
    Returns:
        a `Word2Vec` with the center vectors (V, D) and the mean loss of each epoch.
    """
    if tqdm_class is None:
        from tqdm.auto import tqdm as tqdm_class
    g = torch.Generator().manual_seed(seed)
    vocab = build_vocab(t for s in sentences for t in s)
    encoded = [encode(s, vocab) for s in sentences]
    counts = torch.bincount(torch.cat(encoded), minlength=len(vocab))  # (V,)
    noise = noise_fn(counts, 0.75)
    keep = subsample_keep_probability(counts, subsample) if subsample > 0 else torch.ones(len(vocab), dtype=torch.float64)

    with torch.random.fork_rng(devices=[]):  # seed the initialisation without touching the caller's RNG
        torch.manual_seed(seed)
        model = SkipGram(len(vocab), dim)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    with small_model_threads(), tqdm_class(total=epochs, desc="word2vec", unit="epoch") as bar:
        for _ in range(epochs):
            kept = [ids[torch.rand(len(ids), generator=g, dtype=torch.float64) < keep[ids]] for ids in encoded]
            pairs = torch.cat([pairs_fn(ids, window) for ids in kept if len(ids) > 1])  # (P, 2)
            pairs = pairs[torch.randperm(len(pairs), generator=g)]
            total = 0.0
            for batch in pairs.split(batch_size):
                noise_ids = torch.multinomial(noise, batch.size(0) * negatives, replacement=True, generator=g)
                loss = loss_fn(*model(batch, noise_ids.view(-1, negatives)))  # noise ids (B, K)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * batch.size(0)
            losses.append(total / len(pairs))
            bar.set_postfix(loss=f"{losses[-1]:.3f}", pairs=len(pairs))
            bar.update(1)
    return Word2Vec(vocab, model.center.weight.detach().clone(), losses)


def save(model: Word2Vec, path: Path = STORED) -> None:
    """Store a trained space with the command, machine and date that made it."""
    torch.save({"vocab": list(model.vocab), "vectors": model.vectors, "losses": model.losses,
                "trained": provenance(COMMAND)}, path)


def load(path: Path = STORED) -> Word2Vec:
    """A stored space (`save`), as it was trained."""
    saved = torch.load(path, weights_only=True)
    return Word2Vec({w: i for i, w in enumerate(saved["vocab"])}, saved["vectors"], saved["losses"], saved["trained"])


def training_sentences() -> list[list[str]]:
    """What the course's space is trained on: the corpus's training part (`corpus.training_sentences`).

    No held-out or validation sentence of chapter 09 is in it, so the ladder's scores are on sentences it never saw.
    """
    from mhsa_ref import corpus

    return corpus.training_sentences()


@functools.lru_cache(maxsize=1)
def _pretrained() -> Word2Vec:
    return load()


def pretrained() -> Word2Vec:
    """The course's word2vec space: `train_word2vec` with its defaults on `training_sentences()`, as stored.

    The space ships in `mhsa_ref/data/word2vec.pt` (`python -m mhsa_ref.word2vec --train` writes it), so
    every machine shows the same points: trained again on another CPU, float32 kernels that sum in
    another order move the vectors by up to about 1e-3 (benchmarks/bench_drift.py). Loaded once per
    process; a copy is returned, so a caller may change it freely.
    """
    return copy.deepcopy(_pretrained())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mhsa_ref.word2vec", description="Train the course's word2vec "
                                     f"space and store it in {STORED.relative_to(STORED.parents[2])}.")
    parser.add_argument("--train", action="store_true", help="train with the defaults and write the file (seconds)")
    parser.add_argument("--out", type=Path, default=STORED)
    args = parser.parse_args(argv)
    if not args.train:
        parser.error("say --train to train the space and write it")
    model = train_word2vec(training_sentences())
    save(model, args.out)
    print(f"wrote {args.out}: {tuple(model.vectors.shape)}, mean loss per epoch {[round(x, 4) for x in model.losses]}")


if __name__ == "__main__":
    main()
