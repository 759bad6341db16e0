"""mhsa_ref.one_hot: vocabulary, indices, one-hot vectors and cosine similarity (chapter 01)."""

import math

import pytest
import torch
import torch.nn.functional as F

from mhsa_ref.one_hot import build_vocab, cosine_matrix, cosine_similarity, encode, one_hot
from conftest import assert_close, rand


def test_build_vocab_orders_by_first_appearance():
    vocab = build_vocab(["I", "have", "a", "dream", "a", "I", "plan"])
    assert vocab == {"I": 0, "have": 1, "a": 2, "dream": 3, "plan": 4}
    assert list(vocab.values()) == list(range(len(vocab)))
    assert build_vocab([]) == {}
    assert build_vocab(iter(["x", "y", "x"])) == {"x": 0, "y": 1}  # any iterable, consumed once


def test_build_vocab_rejects_non_strings():
    with pytest.raises(TypeError, match="expects strings.*int 3"):
        build_vocab(["a", 3])


def test_encode_maps_tokens_and_unknowns():
    vocab = build_vocab(["<unk>", "I", "have", "a", "dream"])
    ids = encode(["a", "dream", "I", "have"], vocab)
    assert ids.dtype == torch.long
    assert ids.tolist() == [3, 4, 1, 2]
    assert encode(["I", "had", "a", "plan"], vocab, unknown="<unk>").tolist() == [1, 0, 3, 0]
    assert encode([], vocab).shape == (0,)
    with pytest.raises(KeyError, match="'had' is not in the vocabulary \\(5 words\\)"):
        encode(["I", "had"], vocab)


def test_one_hot_is_rows_of_the_identity():
    ids = torch.tensor([[2, 0, 4], [1, 1, 3]])
    out = one_hot(ids, 5)
    assert out.shape == (2, 3, 5) and out.dtype == torch.float32
    assert torch.equal(out, torch.eye(5)[ids])
    assert torch.equal(out, F.one_hot(ids, 5).float())
    assert torch.equal(out.sum(-1), torch.ones(2, 3))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8])
def test_one_hot_accepts_every_integer_dtype(dtype):
    ids = torch.tensor([3, 0, 2], dtype=dtype)
    assert torch.equal(one_hot(ids, 4), torch.eye(4)[ids.long()])


def test_one_hot_scalar_and_empty_ids():
    assert torch.equal(one_hot(torch.tensor(2), 3), torch.tensor([0.0, 0.0, 1.0]))
    assert one_hot(torch.zeros(0, dtype=torch.long), 3).shape == (0, 3)


def test_distinct_one_hots_are_orthogonal_and_sqrt2_apart():
    vectors = one_hot(torch.arange(6), 6)
    assert torch.equal(cosine_matrix(vectors), torch.eye(6))
    distances = torch.cdist(vectors, vectors)
    off = ~torch.eye(6, dtype=torch.bool)
    assert torch.allclose(distances[off], torch.full((30,), math.sqrt(2)))


@pytest.mark.parametrize("ids, size, message", [
    (torch.tensor([0, 5]), 5, r"ids must lie in 0\.\.4; got values from 0 to 5"),
    (torch.tensor([-1, 2]), 5, r"ids must lie in 0\.\.4; got values from -1 to 2"),
    (torch.tensor([0.0, 1.0]), 5, "ids must be an integer tensor of word indices; got torch.float32"),
    (torch.tensor([True]), 5, "ids must be an integer tensor.*torch.bool"),
    (torch.tensor([0]), 0, "vocab_size must be a positive int; got 0"),
    (torch.tensor([0]), 2.0, "vocab_size must be a positive int; got 2.0"),
])
def test_one_hot_rejects_bad_input(ids, size, message):
    with pytest.raises(ValueError, match=message):
        one_hot(ids, size)


def test_one_hot_rejects_non_tensors():
    with pytest.raises(TypeError, match="ids must be a torch.Tensor, got list"):
        one_hot([0, 1], 3)


def test_one_hot_on_meta():
    out = one_hot(torch.empty(2, 7, dtype=torch.long, device="meta"), 11)
    assert out.device.type == "meta" and out.shape == (2, 7, 11) and out.dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cosine_matches_torch(dtype):
    a, b = rand(4, 6, 9, dtype=dtype), rand(4, 6, 9, dtype=dtype, seed=1)
    out = cosine_similarity(a, b)
    assert out.dtype == dtype and out.shape == (4, 6)
    assert_close(out, F.cosine_similarity(a, b, dim=-1))


def test_cosine_by_hand_and_invariances():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
    assert_close(cosine_similarity(a, b), torch.tensor(1 / math.sqrt(2)))
    x, y = rand(5, 7), rand(5, 7, seed=1)
    assert_close(cosine_similarity(x, x), torch.ones(5, dtype=torch.float64))
    assert_close(cosine_similarity(x, -x), -torch.ones(5, dtype=torch.float64))
    assert_close(cosine_similarity(3.5 * x, 0.2 * y), cosine_similarity(x, y))  # scale does not matter
    assert_close(cosine_similarity(x, y), cosine_similarity(y, x))


def test_cosine_broadcasts_to_a_table():
    a, b = rand(3, 5), rand(4, 5, seed=1)
    table = cosine_similarity(a.unsqueeze(1), b.unsqueeze(0))
    assert table.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            want = float(a[i] @ b[j] / (a[i].norm() * b[j].norm()))
            assert math.isclose(float(table[i, j]), want, rel_tol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cosine_with_a_zero_vector_is_zero_not_nan(dtype):
    zero, x = torch.zeros(4, dtype=dtype), rand(4, dtype=dtype)
    for a, b in ((zero, x), (x, zero), (zero, zero)):
        out = cosine_similarity(a, b)
        assert out.dtype == dtype and out.item() == 0.0


def test_cosine_of_tiny_vectors_is_still_their_cosine():
    a, b = rand(6, dtype=torch.float32), rand(6, dtype=torch.float32, seed=1)
    assert_close(cosine_similarity(a * 1e-15, b * 1e-15), cosine_similarity(a, b))  # the floor only guards 0 / 0


def test_cosine_gradient_flows():
    a, b = rand(3, 4).requires_grad_(), rand(3, 4, seed=1).requires_grad_()
    cosine_similarity(a, b).sum().backward()
    a2, b2 = a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    F.cosine_similarity(a2, b2, dim=-1).sum().backward()
    assert_close(a.grad, a2.grad)
    assert_close(b.grad, b2.grad)


def test_cosine_rejects_mismatched_width():
    with pytest.raises(ValueError, match=r"same last dimension D; got \(2, 3\) and \(2, 4\)"):
        cosine_similarity(torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(TypeError, match="b must be a torch.Tensor"):
        cosine_similarity(torch.ones(3), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_cosine_on_meta(dtype):
    a = torch.empty(2, 1, 8, device="meta", dtype=dtype)
    b = torch.empty(1, 5, 8, device="meta", dtype=dtype)
    out = cosine_similarity(a, b)
    assert out.device.type == "meta" and out.shape == (2, 5) and out.dtype == dtype


def test_cosine_matrix_is_every_pair_of_rows():
    v = rand(6, 4)
    out = cosine_matrix(v)
    assert out.shape == (6, 6) and out.dtype == torch.float64
    normed = v / v.norm(dim=1, keepdim=True)
    assert_close(out, normed @ normed.T)
    assert_close(out.diagonal(), torch.ones(6, dtype=torch.float64))
    assert cosine_matrix(rand(3, 4, dtype=torch.float32)).dtype == torch.float32


def test_vocab_with_unknown_keeps_frequent_words_by_first_appearance():
    from mhsa_ref.one_hot import vocab_with_unknown

    assert vocab_with_unknown("x y z y x w w y".split(), 2) == {"<unk>": 0, "x": 1, "y": 2, "w": 3}
    assert vocab_with_unknown([], 1) == {"<unk>": 0}
    tokens = "the cat saw the dog and the dog saw the cat".split()
    assert vocab_with_unknown(tokens, 1) == {"<unk>": 0, **{w: i + 1 for w, i in build_vocab(tokens).items()}}
    with pytest.raises(ValueError, match="min_count"):
        vocab_with_unknown(tokens, 0)
