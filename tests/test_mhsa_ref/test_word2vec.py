"""mhsa_ref.word2vec: skip-gram pairs, noise distribution, the SGNS loss, training and neighbours (chapter 02)."""

import functools
import math

import pytest
import torch
import torch.nn.functional as F
import tqdm

import drift
from mhsa_ref import corpus, word2vec
from mhsa_ref.one_hot import build_vocab, cosine_similarity
from mhsa_ref.word2vec import (
    SkipGram,
    Word2Vec,
    nearest_neighbours,
    noise_distribution,
    sgns_loss,
    skipgram_pairs,
    subsample_keep_probability,
    train_word2vec,
)
from conftest import assert_close, rand

QUIET = functools.partial(tqdm.tqdm, disable=True)
SMALL = dict(epochs=2, dim=16, tqdm_class=QUIET)  # fast runs on a slice of the corpus


@pytest.fixture(scope="module")
def subset():
    return corpus.sentences()[:1500]


@pytest.fixture(scope="module")
def small(subset):
    return train_word2vec(subset, **SMALL)


@pytest.fixture(scope="module")
def full():
    """The course's training, `python -m mhsa_ref.word2vec --train`, done again here (about 2 s)."""
    return train_word2vec(word2vec.training_sentences(), tqdm_class=QUIET)


# --- skipgram_pairs -------------------------------------------------------------------------------


def test_skipgram_pairs_by_hand():
    pairs = skipgram_pairs(torch.tensor([10, 11, 12]), 1)
    assert pairs.dtype == torch.long
    assert pairs.tolist() == [[10, 11], [11, 10], [11, 12], [12, 11]]


def naive_pairs(ids, window):
    """The definition: each center, then each offset -window..-1, 1..window that stays inside."""
    rows = []
    for c in range(len(ids)):
        for o in [*range(-window, 0), *range(1, window + 1)]:
            if 0 <= c + o < len(ids):
                rows.append([ids[c], ids[c + o]])
    return rows


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("window", [1, 2, 3, 7])
def test_skipgram_pairs_match_the_definition(n, window):
    ids = torch.randint(0, 50, (n,), generator=torch.Generator().manual_seed(n * 10 + window))
    pairs = skipgram_pairs(ids, window)
    want = naive_pairs(ids.tolist(), window)
    assert pairs.shape == (len(want), 2)
    assert pairs.tolist() == want


def test_skipgram_pairs_window_2_by_hand():
    assert skipgram_pairs(torch.tensor([1, 2, 3, 4]), 2).tolist() == [
        [1, 2], [1, 3],
        [2, 1], [2, 3], [2, 4],
        [3, 1], [3, 2], [3, 4],
        [4, 2], [4, 3],
    ]


def test_skipgram_pairs_of_one_word_is_empty():
    pairs = skipgram_pairs(torch.tensor([7]), 3)
    assert pairs.shape == (0, 2) and pairs.dtype == torch.long


def test_skipgram_pairs_keep_int32_ids():
    pairs = skipgram_pairs(torch.tensor([4, 5], dtype=torch.int32), 1)
    assert pairs.dtype == torch.int32 and pairs.tolist() == [[4, 5], [5, 4]]


@pytest.mark.parametrize("window, message", [
    (0, "window must be a positive int; got 0"),
    (-1, "window must be a positive int; got -1"),
    (1.5, "window must be a positive int; got 1.5"),
])
def test_skipgram_pairs_rejects_bad_window(window, message):
    with pytest.raises(ValueError, match=message):
        skipgram_pairs(torch.tensor([1, 2, 3]), window)


def test_skipgram_pairs_rejects_a_batch():
    with pytest.raises(ValueError, match=r"ids must have 1 dimensions \(N,\); got 2"):
        skipgram_pairs(torch.tensor([[1, 2, 3]]), 1)


# --- noise_distribution ---------------------------------------------------------------------------


@pytest.mark.parametrize("power", [0.75, 1.0, 0.5, 0.0])
def test_noise_distribution_is_counts_to_the_power_normalised(power):
    counts = torch.tensor([100, 10, 1, 0, 37])
    p = noise_distribution(counts, power)
    assert p.dtype == torch.float32
    weights = [c ** power if c else (1.0 if power == 0 else 0.0) for c in counts.tolist()]
    want = torch.tensor([w / sum(weights) for w in weights], dtype=torch.float32)
    assert_close(p, want)
    assert math.isclose(float(p.sum()), 1.0, rel_tol=1e-6)


def test_noise_distribution_flattens_the_unigram_distribution():
    counts = torch.tensor([1000.0, 10.0, 1.0], dtype=torch.float64)
    unigram, noise = counts / counts.sum(), noise_distribution(counts)
    assert noise.dtype == torch.float64
    assert noise[0] < unigram[0] and noise[2] > unigram[2]  # frequent words drawn less, rare ones more
    assert_close(noise, counts**0.75 / (counts**0.75).sum())


def test_noise_distribution_default_power_is_three_quarters():
    counts = rand(9).abs()
    assert_close(noise_distribution(counts), noise_distribution(counts, 0.75))
    assert not torch.allclose(noise_distribution(counts), noise_distribution(counts, 1.0))


def test_noise_distribution_rejects_a_table():
    with pytest.raises(ValueError, match=r"counts must have 1 dimensions \(V,\)"):
        noise_distribution(torch.ones(2, 3))


@pytest.mark.parametrize("dtype, want", [(torch.long, torch.float32), (torch.float64, torch.float64),
                                         (torch.float32, torch.float32)])
def test_noise_distribution_on_meta(dtype, want):
    p = noise_distribution(torch.empty(13, device="meta", dtype=dtype))
    assert p.device.type == "meta" and p.shape == (13,) and p.dtype == want


# --- sgns_loss ------------------------------------------------------------------------------------


def hand_sgns(center, context, negatives):
    """The formula with plain log(sigmoid), in float64, one pair at a time."""
    total = 0.0
    for b in range(center.size(0)):
        c = center[b].double()
        term = math.log(1 / (1 + math.exp(-float(c @ context[b].double()))))
        for k in range(negatives.size(1)):
            term += math.log(1 / (1 + math.exp(float(c @ negatives[b, k].double()))))
        total -= term
    return total / center.size(0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sgns_loss_matches_the_formula(dtype):
    center, context, negatives = rand(6, 5, dtype=dtype), rand(6, 5, dtype=dtype, seed=1), rand(6, 3, 5, dtype=dtype, seed=2)
    loss = sgns_loss(center, context, negatives)
    assert loss.shape == () and loss.dtype == dtype
    assert_close(loss, torch.tensor(hand_sgns(center, context, negatives), dtype=dtype))


def test_sgns_loss_by_hand_for_one_pair():
    center, context = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]])
    negatives = torch.tensor([[[0.0, 1.0], [-1.0, 0.0]]])
    want = -(math.log(1 / (1 + math.exp(-2))) + math.log(0.5) + math.log(1 / (1 + math.exp(-1))))
    assert math.isclose(float(sgns_loss(center, context, negatives)), want, rel_tol=1e-6)


def test_sgns_loss_is_finite_where_log_sigmoid_underflows():
    center = torch.full((2, 4), 15.0, dtype=torch.float64)
    context = -center  # c·o = -900: log σ(-900) underflows to log(0) even in float64
    negatives = center.unsqueeze(1).expand(2, 3, 4)
    assert torch.isinf(torch.log(torch.sigmoid((center * context).sum(-1)))).all()
    loss = sgns_loss(center, context, negatives)
    assert torch.isfinite(loss)
    assert math.isclose(float(loss), 4 * 900.0, rel_tol=1e-12)  # 1 + K terms, each -log σ(-900) = 900


def test_sgns_loss_is_low_for_good_vectors_and_high_for_bad_ones():
    c = torch.tensor([[3.0, 0.0]])
    good = sgns_loss(c, torch.tensor([[3.0, 0.0]]), torch.tensor([[[-3.0, 0.0]]]))
    bad = sgns_loss(c, torch.tensor([[-3.0, 0.0]]), torch.tensor([[[3.0, 0.0]]]))
    assert good < 1e-3 and bad > 17


def test_sgns_loss_gradients_match_autograd_of_the_plain_formula():
    args = [rand(4, 3, seed=s) for s in range(2)] + [rand(4, 2, 3, seed=2)]
    ours = [a.clone().requires_grad_() for a in args]
    plain = [a.clone().requires_grad_() for a in args]
    sgns_loss(*ours).backward()
    c, o, n = plain
    positive = torch.log(torch.sigmoid((c * o).sum(-1)))
    negative = torch.log(torch.sigmoid(-(n @ c.unsqueeze(-1)).squeeze(-1))).sum(-1)
    (-(positive + negative).mean()).backward()
    for a, b in zip(ours, plain):
        assert_close(a.grad, b.grad)


@pytest.mark.parametrize("shapes, message", [
    (((4, 3), (4, 3), (4, 3)), r"negatives must have 3 dimensions \(B, K, D\)"),
    (((4,), (4,), (4, 2, 1)), r"center must have 2 dimensions \(B, D\)"),
    (((4, 3), (5, 3), (4, 2, 3)), r"expected center \(B, D\).*got \(4, 3\), \(5, 3\), \(4, 2, 3\)"),
    (((4, 3), (4, 3), (4, 2, 5)), r"got \(4, 3\), \(4, 3\), \(4, 2, 5\)"),
    (((4, 3), (4, 3), (2, 2, 3)), r"got \(4, 3\), \(4, 3\), \(2, 2, 3\)"),
])
def test_sgns_loss_rejects_mismatched_shapes(shapes, message):
    with pytest.raises(ValueError, match=message):
        sgns_loss(*(torch.ones(s) for s in shapes))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_sgns_loss_on_meta(dtype):
    meta = dict(device="meta", dtype=dtype)
    loss = sgns_loss(torch.empty(8, 6, **meta), torch.empty(8, 6, **meta), torch.empty(8, 4, 6, **meta))
    assert loss.device.type == "meta" and loss.shape == () and loss.dtype == dtype


# --- SkipGram, subsampling ------------------------------------------------------------------------


def test_skipgram_model_initialisation_and_lookup():
    torch.manual_seed(0)
    model = SkipGram(10, 4)
    assert model.center.weight.shape == model.context.weight.shape == (10, 4)
    assert model.center.weight.abs().max() <= 0.5 / 4 and model.center.weight.abs().max() > 0
    assert torch.equal(model.context.weight, torch.zeros(10, 4))
    with torch.no_grad():
        model.context.weight.copy_(torch.arange(40.0).view(10, 4))
    pairs, negatives = torch.tensor([[1, 2], [3, 4], [5, 6]]), torch.tensor([[7, 8], [9, 0], [1, 1]])
    center, context, noise = model(pairs, negatives)
    assert center.shape == (3, 4) and context.shape == (3, 4) and noise.shape == (3, 2, 4)
    assert torch.equal(center, model.center.weight[[1, 3, 5]])
    assert torch.equal(context, model.context.weight[[2, 4, 6]])
    assert torch.equal(noise, model.context.weight[negatives])
    assert torch.isfinite(sgns_loss(center, context, noise))


def test_subsample_keep_probability_is_mikolovs_rule():
    counts = torch.tensor([9000, 900, 90, 10])  # frequencies 0.9, 0.09, 0.009, 0.001
    keep = subsample_keep_probability(counts, 1e-3)
    assert keep.dtype == torch.float64
    want = [min(1.0, math.sqrt(1e-3 / f)) for f in (0.9, 0.09, 0.009, 0.001)]
    assert_close(keep, torch.tensor(want, dtype=torch.float64))
    assert keep[-1] == 1.0 and (keep.diff() >= 0).all()  # rarer words are kept more often
    unseen = subsample_keep_probability(torch.tensor([5, 0]), 1e-3)  # a word that never occurs: kept, no division by 0
    assert torch.equal(unseen, torch.tensor([math.sqrt(1e-3), 1.0], dtype=torch.float64))


# --- training -------------------------------------------------------------------------------------


def test_training_is_deterministic_for_a_seed(subset, small):
    again = train_word2vec(subset, **SMALL)
    assert torch.equal(small.vectors, again.vectors) and small.losses == again.losses
    a, b = (train_word2vec(subset[:300], epochs=1, dim=8, seed=seed, tqdm_class=QUIET) for seed in (0, 1))
    assert not torch.equal(a.vectors, b.vectors)


def test_training_returns_the_vocabulary_and_one_vector_per_word(subset, small):
    assert small.vocab == build_vocab(t for s in subset for t in s)
    assert small.vectors.shape == (len(small.vocab), 16)
    assert not small.vectors.requires_grad
    assert small.words == list(small.vocab)
    assert torch.equal(small["cat"], small.vectors[small.vocab["cat"]])
    assert len(small.losses) == 2


def test_training_losses_decrease(subset):
    model = train_word2vec(subset, epochs=3, dim=16, tqdm_class=QUIET)
    assert all(b < a for a, b in zip(model.losses, model.losses[1:])), model.losses
    assert model.losses[0] < 6 * math.log(2)  # the untrained loss: -(1 + K) log σ(0) with K = 5


def test_training_calls_a_custom_loss_fn(subset):
    subset, calls = subset[:400], []

    def counting_loss(center, context, negatives):
        calls.append((center.shape, context.shape, negatives.shape))
        return sgns_loss(center, context, negatives)

    options = dict(epochs=2, dim=8, negatives=3, batch_size=500, subsample=0, tqdm_class=QUIET)
    ours = train_word2vec(subset, loss_fn=counting_loss, **options)
    reference = train_word2vec(subset, **options)
    vocab = build_vocab(t for s in subset for t in s)
    pairs = sum(len(naive_pairs(s, 2)) for s in subset)  # subsample=0 keeps every word
    assert len(calls) == 2 * math.ceil(pairs / 500)
    assert calls[0] == ((500, 8), (500, 8), (500, 3, 8))
    assert calls[-1][0] == (pairs % 500 or 500, 8)
    assert torch.equal(ours.vectors, reference.vectors)  # the same loss, so the same training
    assert len(ours.vocab) == len(vocab)

    def positives_only(center, context, negatives):
        return -F.logsigmoid((center * context).sum(-1)).mean()

    other = train_word2vec(subset, loss_fn=positives_only, **options)
    assert not torch.allclose(other.vectors, reference.vectors)


def test_training_drives_the_given_progress_bar(subset):
    bars = []

    class Bar(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, disable=True, **kwargs)
            self.updates, self.postfixes = 0, []
            bars.append(self)

        def update(self, n=1):
            self.updates += n

        def set_postfix(self, **kwargs):
            self.postfixes.append(kwargs)

    train_word2vec(subset[:200], epochs=3, dim=8, tqdm_class=Bar)
    assert len(bars) == 1 and bars[0].total == 3 and bars[0].updates == 3
    assert [set(p) for p in bars[0].postfixes] == [{"loss", "pairs"}] * 3


def test_full_training_groups_animals_and_drinks(full):
    cat = full.neighbours("cat")
    assert len(cat) == 5 and all(w in corpus.ANIMALS for w, _ in cat), cat
    tea = [w for w, _ in full.neighbours("tea")]
    assert len(set(tea) & set(corpus.DRINKS)) >= 3, tea
    assert full.losses[-1] < full.losses[0]


# --- neighbours -----------------------------------------------------------------------------------


def test_nearest_neighbours_by_hand():
    vocab = {"a": 0, "b": 1, "c": 2, "d": 3}
    vectors = torch.tensor([[1.0, 0.0], [1.0, 1.0], [-1.0, 0.0], [10.0, 0.5]])
    near = nearest_neighbours(vectors, vocab, "a", k=3)
    assert [w for w, _ in near] == ["d", "b", "c"]
    assert near[1] == ("b", round(1 / math.sqrt(2), 4))
    assert near[2] == ("c", -1.0)
    assert nearest_neighbours(vectors, vocab, "a", k=10) == near  # at most V - 1 neighbours, never itself
    assert nearest_neighbours(vectors, vocab, "c", k=1) == [("b", round(-1 / math.sqrt(2), 4))]


def test_nearest_neighbours_are_the_top_cosines(full):
    near = full.neighbours("bread", k=8)
    cos = cosine_similarity(full["bread"], full.vectors)
    cos[full.vocab["bread"]] = -2
    values, indices = cos.sort(descending=True)
    assert [w for w, _ in near] == [full.words[i] for i in indices[:8]]
    assert [c for _, c in near] == [round(float(v), 4) for v in values[:8]]
    assert near == nearest_neighbours(full.vectors, full.vocab, "bread", 8)


def test_nearest_neighbours_unknown_word():
    model = Word2Vec({"a": 0, "b": 1}, torch.eye(2))
    with pytest.raises(KeyError, match="'zebra' is not in the vocabulary"):
        model.neighbours("zebra")
    assert model.neighbours("a") == [("b", 0.0)]


def test_cooccurrence_counts_rows_and_the_symmetry_of_skipgram_pairs():
    from mhsa_ref.word2vec import cooccurrence_counts

    counts = cooccurrence_counts(torch.tensor([[0, 1], [0, 1], [2, 0]]), 3)
    assert counts.dtype == torch.long and counts.tolist() == [[0, 2, 0], [0, 0, 0], [1, 0, 0]]
    ids = torch.tensor([3, 1, 4, 1, 5, 2, 0, 3])
    sym = cooccurrence_counts(skipgram_pairs(ids, 2), 6)
    assert torch.equal(sym, sym.T)  # every (c, o) at offset k has its (o, c) at offset -k
    assert int(sym.sum()) == skipgram_pairs(ids, 2).shape[0]


# --- the stored space: the same training on any CPU --------------------------------------------------------

CHAPTER_WORDS = ("cat", "bread", "tea", "paris", "france", "red", "train", "money", "river", "dream", "bank")


def test_the_stored_space_is_the_course_training_on_any_cpu(full):
    """word2vec.pretrained() ships the space; trained again here it agrees within tests/drift.py's tolerance."""
    stored = word2vec.load()
    assert stored.trained["command"] == word2vec.COMMAND and stored.trained["machine"] and stored.trained["date"]
    assert stored.vocab == full.vocab
    assert drift.disagreements({"vectors": full.vectors}, {"vectors": stored.vectors}, drift.WORD2VEC_WEIGHTS) == []
    assert drift.number_disagreements({"loss": full.losses[-1]}, {"loss": stored.losses[-1]}, ["loss"]) == []
    for word in CHAPTER_WORDS:  # the neighbours chapter 02 prints, with their cosines to 2 decimals
        assert [w for w, _ in full.neighbours(word)] == [w for w, _ in stored.neighbours(word)], word
        assert all(abs(a - b) < 5e-3 for (_, a), (_, b) in zip(full.neighbours(word), stored.neighbours(word)))


def test_the_comparison_fails_on_a_real_change():
    """The control: a learning rate 10 % higher (0.77 on the vectors in bench_drift; one epoch fewer moves them 0.42)."""
    changed = train_word2vec(word2vec.training_sentences(), lr=0.011, tqdm_class=QUIET)
    assert drift.disagreements({"vectors": changed.vectors}, {"vectors": word2vec.load().vectors},
                               drift.WORD2VEC_WEIGHTS)
