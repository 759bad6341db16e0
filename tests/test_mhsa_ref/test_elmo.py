"""mhsa_ref.elmo: biLM targets, the scalar mix, the biLM itself, training and contextual vectors (chapter 03)."""

import functools
import inspect
import math

import pytest
import torch
import torch.nn.functional as F
import tqdm

import drift
from mhsa_ref import corpus, elmo
from mhsa_ref.elmo import (
    BOS,
    EOS,
    IGNORE,
    UNK,
    BiLM,
    _batches,
    bidirectional_targets,
    learn_scalar_mix,
    scalar_mix,
    train_elmo,
)
from mhsa_ref.one_hot import cosine_similarity
from conftest import assert_close, rand

QUIET = functools.partial(tqdm.tqdm, disable=True)
RIVER = "we sat on the bank of the river".split()
MONEY = "she deposited cash at the bank".split()


@pytest.fixture(scope="module")
def full():
    """The course's training, `python -m mhsa_ref.elmo --train`, done again here (about 5 s)."""
    return train_elmo(elmo.training_sentences(), tqdm_class=QUIET)


@pytest.fixture(scope="module")
def small():
    return train_elmo(corpus.sentences()[:1500], epochs=2, hidden=16, tqdm_class=QUIET)


# --- bidirectional_targets ------------------------------------------------------------------------


def test_bidirectional_targets_by_hand():
    fwd, bwd = bidirectional_targets(torch.tensor([[5, 6, 7]]))
    assert fwd.tolist() == [[6, 7, -100]]
    assert bwd.tolist() == [[-100, 5, 6]]
    assert IGNORE == inspect.signature(F.cross_entropy).parameters["ignore_index"].default


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 6)])
def test_bidirectional_targets_match_a_loop(shape):
    ids = torch.randint(0, 40, shape, generator=torch.Generator().manual_seed(sum(shape)))
    fwd, bwd = bidirectional_targets(ids)
    assert fwd.dtype == bwd.dtype == ids.dtype and fwd.shape == bwd.shape == shape
    for b in range(shape[0]):
        for t in range(shape[1]):
            assert fwd[b, t] == (ids[b, t + 1] if t + 1 < shape[1] else IGNORE)
            assert bwd[b, t] == (ids[b, t - 1] if t > 0 else IGNORE)


def test_bidirectional_targets_leave_ids_untouched():
    ids = torch.tensor([[1, 2, 3, 4]])
    bidirectional_targets(ids)
    assert ids.tolist() == [[1, 2, 3, 4]]


def test_bidirectional_targets_rejects_one_sentence_without_a_batch():
    with pytest.raises(ValueError, match=r"ids must have 2 dimensions \(B, T\); got 1"):
        bidirectional_targets(torch.tensor([5, 6, 7]))


@pytest.mark.parametrize("dtype", [torch.long, torch.int32])
def test_bidirectional_targets_on_meta(dtype):
    fwd, bwd = bidirectional_targets(torch.empty(4, 9, dtype=dtype, device="meta"))
    for t in (fwd, bwd):
        assert t.device.type == "meta" and t.shape == (4, 9) and t.dtype == dtype


# --- scalar_mix -----------------------------------------------------------------------------------


def loop_mix(layers, s, gamma):
    weights = [math.exp(v) for v in s.tolist()]
    out = torch.zeros_like(layers[0])
    for j in range(layers.size(0)):
        out += weights[j] / sum(weights) * layers[j]
    return gamma * out


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(3, 5), (3, 4, 5), (2, 2, 3, 5)])
def test_scalar_mix_matches_a_loop(dtype, shape):
    layers, s = rand(*shape, dtype=dtype), rand(shape[0], dtype=dtype, seed=1)
    out = scalar_mix(layers, s, 1.7)
    assert out.shape == shape[1:] and out.dtype == dtype
    assert_close(out, loop_mix(layers.double(), s.double(), 1.7).to(dtype))
    assert_close(scalar_mix(layers, s, torch.tensor(1.7, dtype=dtype)), out)


def test_scalar_mix_special_cases():
    layers = rand(3, 4, 6)
    assert_close(scalar_mix(layers, torch.zeros(3, dtype=torch.float64), 1.0), layers.mean(0))  # equal scores: the mean
    assert_close(scalar_mix(layers, torch.tensor([0.0, 0.0, 1e4], dtype=torch.float64), 2.0), 2 * layers[2])  # one layer
    s = torch.tensor([5.0, -1.0, 2.0], dtype=torch.float64)
    assert_close(scalar_mix(layers, s, 0.0), torch.zeros(4, 6, dtype=torch.float64))


def test_scalar_mix_is_stable_for_huge_scores():
    out = scalar_mix(rand(2, 3), torch.tensor([1000.0, 990.0], dtype=torch.float64), 1.0)
    assert torch.isfinite(out).all()


def test_scalar_mix_gradients_reach_s_and_gamma():
    layers = rand(3, 4, 5)
    s, gamma = rand(3, seed=1).requires_grad_(), torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    scalar_mix(layers, s, gamma).sum().backward()
    s2, gamma2 = s.detach().clone().requires_grad_(), gamma.detach().clone().requires_grad_()
    (gamma2 * (torch.softmax(s2, 0)[:, None, None] * layers).sum(0)).sum().backward()
    assert s.grad is not None and gamma.grad is not None
    assert_close(s.grad, s2.grad)
    assert_close(gamma.grad, gamma2.grad)
    # d/dγ of the sum is the sum of the unscaled mix; d/ds sums to 0 (softmax is shift-invariant)
    assert_close(gamma.grad, loop_mix(layers, s.detach(), 1.0).sum())
    assert abs(float(s.grad.sum())) < 1e-12
    inputs = (s.detach().clone().requires_grad_(), gamma.detach().clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda s, g: scalar_mix(layers, s, g), inputs)


@pytest.mark.parametrize("layers, s, message", [
    (torch.ones(3, 4, 5), torch.zeros(2), "s must have one score per layer: layers has L=3, s has 2"),
    (torch.ones(3, 4, 5), torch.zeros(4), "layers has L=3, s has 4"),
    (torch.ones(3, 4, 5), torch.zeros(3, 1), r"s must have 1 dimensions \(L,\); got 2"),
    (torch.ones(5), torch.zeros(5), r"layers must have at least 2 dimensions \(L, \.\.\., D\); got 1"),
])
def test_scalar_mix_rejects_bad_input(layers, s, message):
    with pytest.raises(ValueError, match=message):
        scalar_mix(layers, s, 1.0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_scalar_mix_on_meta(dtype):
    meta = dict(device="meta", dtype=dtype)
    out = scalar_mix(torch.empty(3, 2, 7, 8, **meta), torch.empty(3, **meta), torch.empty((), **meta))
    assert out.device.type == "meta" and out.shape == (2, 7, 8) and out.dtype == dtype
    out = scalar_mix(torch.empty(3, 8, **meta), torch.empty(3, **meta), 0.5)
    assert out.device.type == "meta" and out.shape == (8,) and out.dtype == dtype


# --- the biLM -------------------------------------------------------------------------------------


@pytest.fixture
def bilm():
    torch.manual_seed(0)
    return BiLM(20, hidden=6).double().eval()


def test_bilm_directions_shapes_and_embedding(bilm):
    ids = torch.randint(0, 20, (3, 7), generator=torch.Generator().manual_seed(0))
    x, fwd, bwd = bilm.directions(ids)
    assert x.shape == (3, 7, 6) and len(fwd) == len(bwd) == 2
    assert all(t.shape == (3, 7, 6) for t in fwd + bwd)
    assert torch.equal(x, bilm.embed.weight[ids])


def test_bilm_forward_reads_left_to_right_and_backward_right_to_left(bilm):
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    changed = ids.clone()
    changed[0, 3] = 17
    _, fwd, bwd = bilm.directions(ids)
    _, fwd2, bwd2 = bilm.directions(changed)
    for j in range(2):
        assert torch.equal(fwd[j][:, :3], fwd2[j][:, :3])  # positions before 3 never see it forward
        assert not torch.allclose(fwd[j][:, 3:], fwd2[j][:, 3:])
        assert torch.equal(bwd[j][:, 4:], bwd2[j][:, 4:])  # positions after 3 never see it backward
        assert not torch.allclose(bwd[j][:, :4], bwd2[j][:, :4])


def test_bilm_backward_is_the_backward_stack_on_the_reversed_sentence(bilm):
    ids = torch.tensor([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]])
    _, _, bwd = bilm.directions(ids)
    h = bilm.embed(ids.flip(1))
    for j, lstm in enumerate(bilm.backward_lstms):
        h = lstm(h)[0]
        assert_close(bwd[j], h.flip(1))
    # each sentence of a batch is read on its own
    assert_close(bilm.directions(ids[1:])[2][-1], bwd[-1][1:])


def test_bilm_loss_is_the_mean_of_both_directions_cross_entropies(bilm):
    ids = torch.randint(0, 20, (4, 6), generator=torch.Generator().manual_seed(1))
    _, fwd, bwd = bilm.directions(ids)
    ce_f = torch.stack([F.cross_entropy(bilm.out(fwd[-1][b, t]), ids[b, t + 1]) for b in range(4) for t in range(5)]).mean()
    ce_b = torch.stack([F.cross_entropy(bilm.out(bwd[-1][b, t]), ids[b, t - 1]) for b in range(4) for t in range(1, 6)]).mean()
    loss = bilm(ids)
    assert loss.shape == ()
    assert_close(loss, (ce_f + ce_b) / 2)


def test_bilm_layers_stack_embedding_and_both_directions(bilm):
    ids = torch.randint(0, 20, (2, 5), generator=torch.Generator().manual_seed(2))
    layers = bilm.layers(ids)
    x, fwd, bwd = bilm.directions(ids)
    assert layers.shape == (3, 2, 5, 12)
    assert torch.equal(layers[0], torch.cat([x, x], -1))
    for j in (1, 2):
        assert torch.equal(layers[j, ..., :6], fwd[j - 1])
        assert torch.equal(layers[j, ..., 6:], bwd[j - 1])


def test_bilm_has_one_embedding_and_one_output_for_both_directions():
    model = BiLM(11, hidden=4, num_layers=3)
    assert len(model.forward_lstms) == len(model.backward_lstms) == 3
    assert model.layers(torch.zeros(1, 2, dtype=torch.long)).shape == (4, 1, 2, 8)
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert names == {"embed", "forward_lstms", "backward_lstms", "out"}


# --- batching and training ------------------------------------------------------------------------


def test_batches_group_equal_lengths_and_keep_every_sentence():
    encoded = [torch.full((n,), i) for i, n in enumerate([3, 5, 3, 3, 5, 4, 3, 3])]
    batches = _batches(encoded, 2, torch.Generator().manual_seed(0))
    assert all(b.dim() == 2 and b.size(0) <= 2 for b in batches)
    assert all((b == b[:, :1]).all() for b in batches)  # each row is one whole sentence
    assert sorted(int(row[0]) for b in batches for row in b) == list(range(8))
    assert sorted(b.size(1) for b in batches) == [3, 3, 3, 4, 5]


def test_training_is_deterministic_and_losses_decrease(small):
    again = train_elmo(corpus.sentences()[:1500], epochs=2, hidden=16, tqdm_class=QUIET)
    assert small.losses == again.losses
    for a, b in zip(small.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(small.vectors(RIVER), again.vectors(RIVER))
    assert len(small.losses) == 2 and small.losses[1] < small.losses[0]
    assert small.losses[0] < math.log(len(small.vocab))  # below the uniform guess


def test_training_vocabulary_starts_with_the_markers(small):
    sentences = corpus.sentences()[:1500]
    assert list(small.vocab)[:3] == [BOS, EOS, UNK]
    assert set(small.vocab) == {BOS, EOS, UNK} | {t for s in sentences for t in s}
    assert small.model.out.out_features == len(small.vocab)
    assert not small.model.training


def test_elmo_ids_wrap_the_sentence_and_read_unknown_words_as_unk(small):
    ids = small.ids(["the", "zebra", "ate"])
    v = small.vocab
    assert ids.tolist() == [[v[BOS], v["the"], v[UNK], v["ate"], v[EOS]]]


def test_elmo_vectors_are_the_layers_without_markers(small):
    vectors = small.vectors(MONEY)
    assert vectors.shape == (3, len(MONEY), 32) and not vectors.requires_grad
    with torch.no_grad():
        assert torch.equal(vectors, small.model.layers(small.ids(MONEY))[:, 0, 1:-1])
    # layer 0 depends on the word only; the LSTM layers on its sentence
    other = small.vectors(["the", "bank", "lent", "cash"])
    assert torch.equal(vectors[0, 5], other[0, 1])
    assert not torch.allclose(vectors[2, 5], other[2, 1])


def test_full_training_separates_the_two_banks(full):
    river, money = full.vectors(RIVER), full.vectors(MONEY)
    assert river.shape[0] == 3
    top = cosine_similarity(river[-1, RIVER.index("bank")], money[-1, MONEY.index("bank")])
    bottom = cosine_similarity(river[0, RIVER.index("bank")], money[0, MONEY.index("bank")])
    assert top < 0.9, float(top)
    assert torch.equal(river[0, RIVER.index("bank")], money[0, MONEY.index("bank")])
    assert math.isclose(float(bottom), 1.0, rel_tol=1e-6)
    assert full.losses[-1] < full.losses[0] / 2


# --- learn_scalar_mix -----------------------------------------------------------------------------


def test_learn_scalar_mix_tells_the_bank_senses_apart(full):
    sentences = corpus.sentences()
    banks = corpus.bank_senses()[:400]
    features = torch.stack([full.vectors(sentences[line])[:, pos] for line, pos, _ in banks], dim=1)  # (L, N, 2H)
    labels = torch.tensor([sense == "river" for _, _, sense in banks]).long()
    assert features.shape == (3, 400, 64) and 0 < labels.sum() < 400
    weights, gamma, accuracy = learn_scalar_mix(features, labels)
    assert weights.shape == (3,) and math.isclose(float(weights.sum()), 1.0, rel_tol=1e-6)
    assert gamma.shape == () and len(accuracy) == 300
    assert accuracy[-1] >= 0.95, accuracy[-1]
    assert weights[0] < 1 / 3, weights  # the context-free layer cannot tell the senses apart


def test_sense_mix_is_chapter_03s_mix_on_every_bank(full):
    from mhsa_ref.elmo import sense_mix

    weights, gamma = sense_mix(full, steps=60)
    sentences, senses = corpus.sentences(), corpus.bank_senses()
    features = torch.stack([full.vectors(sentences[line])[:, pos] for line, pos, _ in senses], dim=1)
    labels = torch.tensor([sense == "river" for _, _, sense in senses]).long()
    want, want_gamma, _ = learn_scalar_mix(features, labels, steps=60)
    assert torch.equal(weights, want) and torch.equal(gamma, want_gamma)
    assert weights[0] < 1 / 3 and weights[2] == weights.max(), weights  # the top layer, as chapter 03 shows
    other, _ = sense_mix(full, steps=60, seed=1)
    assert not torch.equal(other, weights)  # the seed reaches the classifier


def test_sense_probe_is_scored_on_held_out_sentences_beside_its_baselines():
    """Chapter 03's held-out probe (the stored biLM): every held-out "bank" right, more than either baseline, and no
    held-out sentence among those the probe learned from. A wrong split or a probe scored on its training examples
    changes the counts; a classifier that learned nothing falls to the majority's 70 %."""
    from mhsa_ref import elmo

    probe = elmo.sense_probe(elmo.pretrained(), steps=300, seed=0)
    assert (probe["training_examples"], probe["held_out_examples"]) == (226, 53)
    assert probe["held_out_accuracy"] >= 0.98 > probe["rule_accuracy"] > probe["majority_accuracy"]
    assert abs(probe["majority_accuracy"] - 37 / 53) < 1e-6 and abs(probe["rule_accuracy"] - 50 / 53) < 1e-6
    parts = corpus.sentence_parts()
    held_out = {tuple(s) for s, p in zip(corpus.sentences(), parts) if p == "held-out"}
    assert not held_out & {tuple(s) for s, p in zip(corpus.sentences(), parts) if p == "training"}
    untrained = elmo.sense_probe(elmo.pretrained(), steps=0)
    assert untrained["held_out_accuracy"] < 0.9


def test_learn_scalar_mix_weights_the_informative_layer():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (200,), generator=g)
    noise = torch.randn(3, 200, 4, generator=g)
    features = noise.clone()
    features[1, :, 0] += 4 * (2 * labels - 1)  # only layer 1 carries the label
    weights, _, accuracy = learn_scalar_mix(features, labels, steps=150)
    assert weights.argmax() == 1 and weights[1] > 0.5, weights
    assert accuracy[-1] > 0.9


def test_learn_scalar_mix_uses_the_given_mix_and_is_deterministic():
    features, labels = rand(3, 30, 4, dtype=torch.float32), torch.arange(30) % 3
    calls = []

    def mix(layers, s, gamma):
        calls.append((layers.shape, s.shape, gamma.shape))
        return scalar_mix(layers, s, gamma)

    ours = learn_scalar_mix(features, labels, steps=20, mix=mix)
    reference = learn_scalar_mix(features, labels, steps=20)
    assert calls == [((3, 30, 4), (3,), ())] * 20
    assert torch.equal(ours[0], reference[0]) and torch.equal(ours[1], reference[1]) and ours[2] == reference[2]
    other = learn_scalar_mix(features, labels, steps=20, mix=lambda layers, s, gamma: layers[0])
    assert torch.equal(other[0], torch.full((3,), 1 / 3))  # s gets no gradient: the weights stay uniform


def test_perplexity_is_exp_of_the_cross_entropy():
    from mhsa_ref.elmo import perplexity

    logits = rand(2, 5, 7, dtype=torch.float64)
    targets = torch.tensor([[1, 2, 3, 4, -100], [0, 6, 5, -100, -100]])
    want = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100).exp()
    assert_close(perplexity(logits, targets), want)
    assert_close(perplexity(torch.zeros(3, 4, 1000), torch.randint(0, 1000, (3, 4))), torch.tensor(1000.0))
    right = logits.argmax(-1).masked_fill(targets == -100, -100)  # a confident model that is right
    assert_close(perplexity(logits * 1e4, right), torch.tensor(1.0, dtype=torch.float64))  # no overflow


# --- the stored biLM: the same training on any CPU ----------------------------------------------------------

SENTENCES = ("I have a dream", "we sat on the bank of the river", "she deposited cash at the bank")


def _vectors(model) -> dict[str, torch.Tensor]:
    return {s: model.vectors(s.split()) for s in SENTENCES}


def test_the_stored_bilm_is_the_course_training_on_any_cpu(full):
    """elmo.pretrained() ships the biLM; trained again here it agrees within tests/drift.py's tolerances."""
    stored = elmo.load()
    assert stored.trained["command"] == elmo.COMMAND and stored.trained["machine"] and stored.trained["date"]
    assert stored.vocab == full.vocab
    assert drift.disagreements(full.model.state_dict(), stored.model.state_dict(), drift.ELMO_WEIGHTS) == []
    assert drift.disagreements(_vectors(full), _vectors(stored), drift.ELMO_VECTORS) == []
    assert drift.number_disagreements({"loss": full.losses[-1]}, {"loss": stored.losses[-1]}, ["loss"]) == []


def test_the_comparison_fails_on_a_real_change():
    """The control: one epoch fewer, the smallest change bench_drift measures (0.40 on the weights)."""
    changed = train_elmo(elmo.training_sentences(), epochs=5, tqdm_class=QUIET)
    stored = elmo.load()
    assert drift.disagreements(changed.model.state_dict(), stored.model.state_dict(), drift.ELMO_WEIGHTS)
    assert drift.disagreements(_vectors(changed), _vectors(stored), drift.ELMO_VECTORS)
