"""Named checks for exercise 01_one_hot: one function per graded cell of the notebook.

Visible checks use "I have a dream" and a sentence with repeated words; hidden ones add the empty
and one-token cases, case sensitivity, extra batch dimensions, zero vectors, broadcasting,
float64, `meta` tensors, and CUDA when present. `F.one_hot` is not allowed: a call to it is caught
under any alias (it is one C function, torch._C._nn.one_hot).
"""

from __future__ import annotations

import importlib
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from mhsa_ref.checks._core import (CheckFailure, Rules, call, expect_close, expect_exact, expect_tensor, likely_causes,
                                   form_every_suspect, on_cuda, passed, randn)
from mhsa_ref.checks._questions import expect_answer, form_passed, near, read_float, read_int

__all__ = [
    "vocab_values",
    "vocab_edge_cases",
    "one_hot_values",
    "one_hot_shapes_and_dtypes",
    "one_hot_devices",
    "cosine_values",
    "cosine_zero_vectors",
    "cosine_broadcast_and_dtypes",
    "cosine_devices",
    "unknown_vocab_values",
    "unknown_vocab_edge_cases",
    "one_hot_bytes_form",
    "one_hot_bytes_question",
    "bag_distance_form",
    "bag_distance_question",
    "unknown_share_form",
    "unknown_share_question",
]

# `mhsa_ref.one_hot` is the function (the package exports it); the module is fetched by its full name.
ref = importlib.import_module("mhsa_ref.one_hot")
ONE_HOT_RULES = Rules(python={F.one_hot: "F.one_hot (torch.nn.functional.one_hot)"})
DREAM = ["I", "have", "a", "dream"]
REPEATS = "the cat saw the dog and the dog saw the cat".split()

# ---------------------------------------------------------------------------------------------
# build_vocab


def _vocab_suspects(tokens: list[str]) -> dict[str, Callable[[], dict]]:
    return {
        "the indices follow alphabetical order (sorted); they must follow the order of first appearance.":
            lambda: {w: i for i, w in enumerate(sorted(set(tokens)))},
        "the indices start at 1; the first word gets index 0.":
            lambda: {w: i + 1 for w, i in ref.build_vocab(tokens).items()},
        "a repeated word got the position of its last appearance ({w: i for i, w in enumerate(tokens)}); "
        "each word keeps the index it got when first seen, and indices run 0..V-1 without gaps.":
            lambda: {w: i for i, w in enumerate(tokens)},
        "a repeated word got the position of its first appearance in the text; indices must count distinct "
        "words, 0..V-1 without gaps (the next new word gets len(vocab)).":
            lambda: {w: tokens.index(w) for w in tokens},
        "the indices follow a set's order; a set forgets the order of the text, so use a dict filled in "
        "order of first appearance.":
            lambda: {w: i for i, w in enumerate(set(tokens))} if list(set(tokens)) != list(dict.fromkeys(tokens)) else None,
    }


def _expect_vocab(build_vocab: Callable, tokens: list[str]) -> None:
    shown = tokens if len(tokens) <= 12 else tokens[:12] + ["…"]
    context = f"for tokens {shown}"
    original = list(tokens)
    got = call(build_vocab, tokens, name="build_vocab", context=context)
    if tokens != original:
        raise CheckFailure(f"build_vocab changed its input list {context}; build a new dict and leave tokens as they are.")
    want = ref.build_vocab(tokens)
    form_every_suspect(_vocab_suspects(tokens))
    if not isinstance(got, dict):
        raise CheckFailure(f"build_vocab should return a dict word -> index {context}; got {type(got).__name__}.")
    if got == want:
        return
    if set(got) != set(want):
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        raise CheckFailure(f"build_vocab has the wrong words {context}: missing {missing[:6]}, unexpected {extra[:6]}.\n"
                           f"  Every distinct token must be a key, and nothing else.")
    for cause, make in _vocab_suspects(tokens).items():
        if make() == got:
            raise CheckFailure(f"Wrong indices from build_vocab {context}.\n  expected {want}\n  got      {got}\n"
                               f"  Likely cause: {cause}")
    raise CheckFailure(f"Wrong indices from build_vocab {context}.\n  expected {want}\n  got      {got}")


def vocab_values(build_vocab: Callable) -> None:
    """Visible: "I have a dream", and a sentence whose words repeat."""
    _expect_vocab(build_vocab, DREAM)
    _expect_vocab(build_vocab, REPEATS)
    passed("vocab_values", "indices by first appearance for 'I have a dream' and a sentence with repeats")


def vocab_edge_cases(build_vocab: Callable) -> None:
    """Hidden: no tokens, one token repeated, case matters ("I" ≠ "i"), and 2,000 tokens of the corpus."""
    from mhsa_ref import corpus

    _expect_vocab(build_vocab, [])
    _expect_vocab(build_vocab, ["dream"] * 3)
    _expect_vocab(build_vocab, ["I", "i", "have", "Have", "I"])
    text = [t for s in corpus.sentences()[:300] for t in s][:2000]
    _expect_vocab(build_vocab, text)
    passed("vocab_edge_cases", "empty input, one repeated token, case-sensitive words, 2,000 corpus tokens")


# ---------------------------------------------------------------------------------------------
# one_hot


def _one_hot_suspects(ids: Tensor, vocab_size: int) -> dict[str, Callable[[], Tensor]]:
    want = ref.one_hot(ids, vocab_size)
    shifted = lambda start: (ids.unsqueeze(-1) == torch.arange(start, start + vocab_size, device=ids.device)).to(torch.float32)
    return {
        "the 1 sits at index id - 1 (positions counted from 1); word i has its 1 at position i, counting from 0.":
            lambda: shifted(1),
        "the 1 sits at index id + 1; word i has its 1 at position i, counting from 0.": lambda: shifted(-1),
        "every entry is 1 except the word's (1 - one_hot); the word's position holds the 1, the rest 0.":
            lambda: 1 - want,
        "the vectors were flattened into one (N, V) matrix; keep ids' shape and add V as a last dimension, "
        "(...) -> (..., V).":
            lambda: want.reshape(-1, vocab_size),
        "the vocabulary axis came first, (V, ...); it must be the last axis, (..., V).":
            lambda: want.movedim(-1, 0),
    }


def _expect_one_hot(one_hot: Callable, ids: Tensor, vocab_size: int) -> None:
    context = f"for ids of shape {tuple(ids.shape)} ({str(ids.dtype)[6:]}) and vocab_size={vocab_size}"
    got = call(one_hot, ids, vocab_size, name="one_hot", rules=ONE_HOT_RULES, context=context)
    want = ref.one_hot(ids, vocab_size)
    if isinstance(got, Tensor) and got.shape == want.shape and got.dtype != want.dtype:
        raise CheckFailure(f"one_hot returned {got.dtype} {context}; one-hot vectors are float32 (they are points "
                           f"in R^V, and later layers multiply them with float weights). Convert with .float() or "
                           f"create them with dtype=torch.float32.")
    expect_exact(got, want, what="one-hot vectors", context=context, suspects=_one_hot_suspects(ids, vocab_size))


def _ids(shape: tuple[int, ...], vocab_size: int, seed: int, dtype=torch.long) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, shape, generator=g).to(dtype)


def one_hot_values(one_hot: Callable) -> None:
    """Visible: the ids of "I have a dream" (4,) and a batch of three sentences (3, 4)."""
    _expect_one_hot(one_hot, torch.tensor([0, 1, 2, 3]), 4)
    _expect_one_hot(one_hot, torch.tensor([3, 1, 0, 2]), 6)
    _expect_one_hot(one_hot, torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [4, 4, 5, 0]]), 6)
    passed("one_hot_values", "(4,) and (3, 4) ids give (4, V) and (3, 4, V) float32 one-hot vectors")


def one_hot_shapes_and_dtypes(one_hot: Callable) -> None:
    """Hidden: extra batch dimensions (2, 3, 5), a single id (0-d), no ids (0,), int32 ids, V = 1."""
    _expect_one_hot(one_hot, _ids((2, 3, 5), 7, seed=1), 7)
    _expect_one_hot(one_hot, torch.tensor(4), 9)
    _expect_one_hot(one_hot, torch.zeros(0, dtype=torch.long), 5)
    _expect_one_hot(one_hot, _ids((3, 4), 11, seed=2, dtype=torch.int32), 11)
    _expect_one_hot(one_hot, torch.zeros(3, dtype=torch.long), 1)
    passed("one_hot_shapes_and_dtypes", "any batch shape, 0-d and empty ids, int32 ids, always float32")


def one_hot_devices(one_hot: Callable) -> None:
    """Hidden: `meta` ids (nothing created on a fixed device), and CUDA when present."""
    ids = torch.empty((2, 3, 5), dtype=torch.long, device="meta")
    context = "for ids on the meta device, which has shapes but no values"
    got = call(one_hot, ids, 7, name="one_hot", rules=ONE_HOT_RULES, context=context)
    expect_tensor(got, ref.one_hot(ids, 7), what="one-hot vectors", context=context)

    def cuda_run() -> None:
        _expect_one_hot(one_hot, _ids((3, 4), 6, seed=3).cuda(), 6)

    passed("one_hot_devices", f"device-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# cosine_similarity


def _cosine_suspects(a: Tensor, b: Tensor) -> dict[str, Callable[[], Tensor]]:
    dot = lambda: (a * b).sum(-1)
    na, nb = lambda: a.norm(dim=-1), lambda: b.norm(dim=-1)
    suspects = {
        "you returned the dot product a · b without dividing by the lengths |a| |b|.": dot,
        "you returned 1 - cosine (the cosine distance); return the cosine itself.":
            lambda: 1 - ref.cosine_similarity(a, b),
        "you divided by the squared lengths |a|² |b|²; divide by the lengths (norms) |a| |b|.":
            lambda: dot() / (na() ** 2 * nb() ** 2),
        "you divided by |a| only; divide by both lengths, |a| |b|.": lambda: dot() / na(),
        "you divided by |b| only; divide by both lengths, |a| |b|.": lambda: dot() / nb(),
        "you divided by |a| + |b|; the cosine divides by the product |a| |b|.": lambda: dot() / (na() + nb()),
    }
    # Any ε up to about 1e-5 gives this within the suspects' tolerance, so the message names no value.
    suspects["you added a small ε to the denominator, which shifts every cosine a little (visible in float64); "
             "guard only the zero case, e.g. norms.clamp_min(1e-12) or torch.where(norms > 0, ...)."] = (
        lambda: dot() / (na() * nb() + 1e-8)
    )
    if a.dim() >= 2 and a.shape == b.shape:
        suspects["you summed along the first dimension; the vectors lie along the last one (dim=-1)."] = (
            lambda: ref.cosine_similarity(a.movedim(0, -1), b.movedim(0, -1))
        )
    return suspects


_ZERO_NAN = ("a zero vector has length 0, so dot / (|a| |b|) is 0 / 0 = NaN. The cosine of a zero vector is "
             "defined here as 0: keep the denominator away from 0 (e.g. .clamp_min(1e-12) or torch.where).")


def _expect_cosine(cosine_similarity: Callable, a: Tensor, b: Tensor) -> None:
    context = f"for a {tuple(a.shape)} and b {tuple(b.shape)} ({str(a.dtype)[6:]})"
    got = call(cosine_similarity, a, b, name="cosine_similarity", context=context)
    expect_close(got, ref.cosine_similarity(a, b), what="the cosine similarity", context=context,
                 suspects=_cosine_suspects(a, b), nan_hint=_ZERO_NAN)


def cosine_values(cosine_similarity: Callable) -> None:
    """Visible: pairs of random word vectors (4, 5), and one-hot vectors (orthogonal: cosine 0)."""
    _expect_cosine(cosine_similarity, randn((4, 5), seed=40), randn((4, 5), seed=41))
    eye = torch.eye(4)
    _expect_cosine(cosine_similarity, eye, eye.roll(1, 0))
    _expect_cosine(cosine_similarity, eye, 3 * eye)
    passed("cosine_values", "random (4, 5) vectors; distinct one-hot vectors give 0, a vector with itself 1")


def cosine_zero_vectors(cosine_similarity: Callable) -> None:
    """Hidden: rows that are zero vectors in a, in b, and in both give 0, never NaN."""
    for dtype in (torch.float32, torch.float64):
        a, b = randn((5, 6), seed=50, dtype=dtype), randn((5, 6), seed=51, dtype=dtype)
        a[1] = 0
        b[3] = 0
        a[4] = b[4] = 0
        _expect_cosine(cosine_similarity, a, b)
    passed("cosine_zero_vectors", "a zero vector on either side gives 0, not NaN")


def cosine_broadcast_and_dtypes(cosine_similarity: Callable) -> None:
    """Hidden: (N, 1, D) against (1, M, D) gives (N, M); extra batch dimensions; 1-D vectors; float64."""
    for dtype in (torch.float32, torch.float64):
        x = randn((3, 7), seed=60, dtype=dtype)
        y = randn((5, 7), seed=61, dtype=dtype)
        _expect_cosine(cosine_similarity, x.unsqueeze(1), y.unsqueeze(0))
        _expect_cosine(cosine_similarity, randn((2, 3, 4, 7), seed=62, dtype=dtype), randn((2, 3, 4, 7), seed=63, dtype=dtype))
        _expect_cosine(cosine_similarity, randn((7,), seed=64, dtype=dtype), randn((7,), seed=65, dtype=dtype))
        _expect_cosine(cosine_similarity, randn((6, 7), seed=66, dtype=dtype) * 1e3, randn((6, 7), seed=67, dtype=dtype) * 1e-3)
    passed("cosine_broadcast_and_dtypes", "broadcast (N, 1, D) × (1, M, D), 4-D and 1-D inputs, float32 and float64")


def cosine_devices(cosine_similarity: Callable) -> None:
    """Hidden: `meta` tensors (nothing created on a fixed device), and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        a, b = (torch.empty((2, 3, 7), dtype=dtype, device="meta") for _ in range(2))
        context = f"for a and b on the meta device ({str(dtype)[6:]}), which has shapes but no values"
        got = call(cosine_similarity, a, b, name="cosine_similarity", context=context)
        expect_tensor(got, ref.cosine_similarity(a, b), what="the cosine similarity", context=context)

    def cuda_run() -> None:
        a, b = randn((4, 6), seed=70, device="cuda"), randn((4, 6), seed=71, device="cuda")
        a[2] = 0
        _expect_cosine(cosine_similarity, a, b)

    passed("cosine_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# vocab_with_unknown


def _unknown_vocab_suspects(tokens: list[str], min_count: int) -> dict[str, Callable[[], dict]]:
    counts = {w: tokens.count(w) for w in dict.fromkeys(tokens)}
    kept = [w for w in counts if counts[w] >= min_count]
    reached: list[str] = []  # the order in which words reach min_count while reading the text
    seen: dict[str, int] = {}
    for w in tokens:
        seen[w] = seen.get(w, 0) + 1
        if seen[w] == min_count:
            reached.append(w)
    return {
        "the kept words are ordered by when they reached min_count while reading; order them by their first "
        "appearance, as build_vocab does (count first, then a second pass over the tokens).":
            lambda: {ref.UNKNOWN: 0, **{w: i + 1 for i, w in enumerate(reached)}},
        "the kept words are ordered by frequency (most frequent first); order them by first appearance.":
            lambda: {ref.UNKNOWN: 0, **{w: i + 1 for i, w in
                                         enumerate(sorted(kept, key=lambda w: -counts[w]))}},
        "\"<unk>\" came last; it takes index 0 and the kept words follow from 1.":
            lambda: {**{w: i for i, w in enumerate(kept)}, ref.UNKNOWN: len(kept)},
        "the kept words kept their indices of the full vocabulary (+1), which leaves gaps where rare words were; "
        "number the kept words 1, 2, 3, … without gaps.":
            lambda: {ref.UNKNOWN: 0, **{w: i + 1 for i, w in enumerate(counts) if counts[w] >= min_count}},
        "the kept words were sorted alphabetically; order them by their first appearance in the tokens.":
            lambda: {ref.UNKNOWN: 0, **{w: i + 1 for i, w in enumerate(sorted(kept))}},
        "the kept words were numbered from 0, the index of \"<unk>\": they start at 1 (enumerate(kept, start=1)).":
            lambda: {ref.UNKNOWN: 0, **{w: i for i, w in enumerate(kept)}},
        "the kept words are ordered by their last appearance; order them by their first.":
            lambda: {ref.UNKNOWN: 0, **{w: i + 1 for i, w in
                                         enumerate(w for w in reversed(list(dict.fromkeys(reversed(tokens))))
                                                   if counts[w] >= min_count)}},
    }


def _first(vocab: dict, limit: int = 12) -> str:
    """A vocabulary as the learner reads it in a message: its first `limit` entries."""
    if len(vocab) <= limit:
        return str(vocab)
    return "{" + ", ".join(f"{w!r}: {i}" for w, i in list(vocab.items())[:limit]) + f", … ({len(vocab)} words)}}"


def _expect_unknown_vocab(vocab_with_unknown: Callable, tokens: list[str], min_count: int) -> None:
    shown = tokens if len(tokens) <= 12 else tokens[:12] + ["…"]
    context = f"for tokens {shown} and min_count={min_count}"
    original = list(tokens)
    got = call(vocab_with_unknown, tokens, min_count, name="vocab_with_unknown", context=context)
    if tokens != original:
        raise CheckFailure(f"vocab_with_unknown changed its input list {context}; leave tokens as they are.")
    want = ref.vocab_with_unknown(tokens, min_count)
    suspects = _unknown_vocab_suspects(tokens, min_count)
    form_every_suspect(suspects)
    if not isinstance(got, dict):
        raise CheckFailure(f"vocab_with_unknown should return a dict word -> index {context}; "
                           f"got {type(got).__name__}.")
    if got == want:
        return
    if ref.UNKNOWN not in got:
        raise CheckFailure(f"vocab_with_unknown has no \"<unk>\" entry {context}.\n  expected {_first(want)}\n"
                           f"  got      {_first(got)}\n  The vocabulary needs one index for every word it leaves out: \"<unk>\" -> 0.")
    counts = {w: tokens.count(w) for w in set(tokens)}
    rare = sorted(w for w in got if w != ref.UNKNOWN and counts.get(w, 0) < min_count)
    if rare:
        raise CheckFailure(f"vocab_with_unknown kept words seen fewer than min_count={min_count} times {context}: "
                           f"{rare[:6]} (seen {[counts.get(w, 0) for w in rare[:6]]} times).\n"
                           f"  Keep a word only if it occurs at least min_count times; the others become \"<unk>\".")
    missing = sorted(set(want) - set(got))
    if missing:
        exact = [w for w in missing if counts.get(w) == min_count]
        cause = (f"\n  Likely cause: a word seen exactly min_count times was left out ({exact[:6]}): keep "
                 f"count >= min_count, not count > min_count." if exact else "")
        raise CheckFailure(f"vocab_with_unknown is missing words {context}: {missing[:6]}.{cause}")
    cause = likely_causes([cause for cause, make in suspects.items() if make() == got])
    if cause:
        raise CheckFailure(f"Wrong indices from vocab_with_unknown {context}.\n  expected {_first(want)}\n"
                           f"  got      {_first(got)}\n  Likely cause: {cause}")
    raise CheckFailure(f"Wrong indices from vocab_with_unknown {context}.\n  expected {_first(want)}\n"
                       f"  got      {_first(got)}")


def unknown_vocab_values(vocab_with_unknown: Callable) -> None:
    """Visible: a sentence whose words repeat, with min_count 2 and 3; "I have a dream" with min_count 1."""
    _expect_unknown_vocab(vocab_with_unknown, REPEATS, 2)
    _expect_unknown_vocab(vocab_with_unknown, REPEATS, 3)
    _expect_unknown_vocab(vocab_with_unknown, DREAM, 1)
    _expect_unknown_vocab(vocab_with_unknown, "x y z y x w w y".split(), 2)
    passed("unknown_vocab_values", "\"<unk>\" first, then the words seen at least min_count times, by first appearance")


def unknown_vocab_edge_cases(vocab_with_unknown: Callable) -> None:
    """Hidden: no tokens, no word frequent enough, every word kept, and 2,000 tokens of the corpus."""
    from mhsa_ref import corpus

    _expect_unknown_vocab(vocab_with_unknown, [], 1)
    _expect_unknown_vocab(vocab_with_unknown, DREAM, 2)
    _expect_unknown_vocab(vocab_with_unknown, ["b", "a", "b", "c", "a", "b"], 1)
    text = [t for s in corpus.sentences()[:300] for t in s][:2000]
    _expect_unknown_vocab(vocab_with_unknown, text, 5)
    _expect_read_once(vocab_with_unknown, REPEATS, 2)
    passed("unknown_vocab_edge_cases", "empty input, nothing kept, everything kept, 2,000 corpus tokens with min_count 5, "
                                       "tokens from a generator")


def _expect_read_once(vocab_with_unknown: Callable, tokens: list[str], min_count: int) -> None:
    """tokens may be any iterable, as a corpus read line by line is: a generator can be read only once."""
    context = f"for tokens given as a generator over {tokens[:6]}… and min_count={min_count}"
    got = call(vocab_with_unknown, (t for t in tokens), min_count, name="vocab_with_unknown", context=context)
    want = ref.vocab_with_unknown(tokens, min_count)
    if got != want:
        hint = ("\n  Likely cause: the tokens were read twice (once to count, once to order); a generator is "
                "empty after the first pass. Read them once: tokens = list(tokens) first." if got == {ref.UNKNOWN: 0}
                else "")
        raise CheckFailure(f"Wrong vocabulary from vocab_with_unknown {context}.\n  expected {_first(want)}\n"
                           f"  got      {_first(got) if isinstance(got, dict) else repr(got)[:200]}{hint}")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run

_BYTES = (32, 20, 10_000)  # sentences, tokens per sentence, vocabulary size


def one_hot_bytes_form(answer_one_hot_bytes: object) -> None:
    """Visible: the answer is one positive int."""
    read_int(answer_one_hot_bytes, what="answer_one_hot_bytes", minimum=1)
    form_passed("one_hot_bytes_form", "one int")


def one_hot_bytes_question(answer_one_hot_bytes: object) -> None:
    """Hidden: the bytes of one_hot(ids, 10_000) for ids of shape (32, 20), in float32."""
    got = read_int(answer_one_hot_bytes, what="answer_one_hot_bytes", minimum=1)
    B, T, V = _BYTES
    out = ref.one_hot(torch.empty((B, T), dtype=torch.long, device="meta"), V)  # shapes only, no memory
    want = out.numel() * out.element_size()
    expect_answer(got, want, name="one_hot_bytes_question",
                  summary=f"{want:,} bytes: (32, 20, 10000) float32 numbers to store 640 words",
                  why=(f"one_hot gives a ({B}, {T}, {V}) tensor: one float32 (4 bytes) per word and per word of the "
                       f"vocabulary, {B}·{T}·{V:,}·4 = {want:,} bytes (about {want / 1e6:.0f} MB) for 640 words, "
                       f"99.99% of them zeros. A one-hot vector's dimension is the vocabulary size; a 300-wide "
                       f"embedding of the same words takes {B * T * 300 * 4:,} bytes."),
                  wrong={B * T * V: "that is the number of entries; each float32 entry takes 4 bytes.",
                         B * T * V * 8: "8 bytes is a float64 entry; one_hot returns float32, 4 bytes each.",
                         B * T * V * 32: "32 is float32's size in bits; in bytes it is 4.",
                         B * T * 4: "that is one float32 per word; each word's vector has 10,000 of them."})


def bag_distance_form(answer_bag_distance: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_bag_distance, what="answer_bag_distance")
    form_passed("bag_distance_form", "one number")


def bag_distance_question(answer_bag_distance: object) -> None:
    """Hidden: the distance between the bags of words of two sentences with the same words in another order."""
    got = read_float(answer_bag_distance, what="answer_bag_distance")
    words = "the dog bit the man".split()
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    bag = lambda sentence: ref.one_hot(torch.tensor([vocab[w] for w in sentence.split()]), len(vocab)).sum(0)
    want = (bag("the dog bit the man") - bag("the man bit the dog")).norm().item()
    expect_answer(got, want, name="bag_distance_question", close=near(),
                  summary="0.0: the two sentences have the same bag of words",
                  why=("a bag of words is the sum of the one-hot vectors of a sentence's words: each coordinate counts "
                       "one word. \"the dog bit the man\" and \"the man bit the dog\" have the same words, as often "
                       "each (the: 2, dog, bit, man: 1), so their bags are the same point, 0 apart: who bit whom is "
                       "lost. One-hot vectors say which word, never where it is; chapter 05's self-attention has the "
                       "same blindness to order, which positions mend (chapter 09)."),
                  wrong={2 ** 0.5: "√2 is the distance between two different words' one-hot vectors; here both bags "
                                   "hold the same words.",
                         2.0: "the two sentences differ in the order of two words, not in the words: the sums are equal.",
                         4.0: "the bags are sums of the same five one-hot vectors: nothing differs."})


_SHARE_COUNT = 50


def unknown_share_form(answer_unknown_share: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_unknown_share, what="answer_unknown_share")
    form_passed("unknown_share_form", "one number")


def unknown_share_question(answer_unknown_share: object) -> None:
    """Hidden: the share of the corpus's tokens that min_count = 50 sends to "<unk>"."""
    from mhsa_ref import corpus

    got = read_float(answer_unknown_share, what="answer_unknown_share")
    tokens = [t for s in corpus.sentences() for t in s]
    vocab = ref.vocab_with_unknown(tokens, _SHARE_COUNT)
    want = sum(t not in vocab for t in tokens) / len(tokens)
    expect_answer(got, want, name="unknown_share_question", close=near(rel=0.05, abs_=0.002),
                  summary=f"{want:.3f}: {len(vocab) - 1} words kept, and \"<unk>\" stands for {want:.1%} of the tokens",
                  why=(f"with min_count = {_SHARE_COUNT}, {len(vocab) - 1} of the corpus's "
                       f"{len(set(tokens))} distinct words are kept; the {len(set(tokens)) - len(vocab) + 1} left out "
                       f"are rare, so together they are only {want:.1%} of the {len(tokens):,} tokens. That is why "
                       f"real vocabularies can drop rare words: the vocabulary shrinks a lot, the text hardly."),
                  wrong={(len(set(tokens)) - len(vocab) + 1) / len(set(tokens)):
                         "that is the share of distinct words left out; the question asks for the share of tokens, "
                         "and rare words are rare in the text.",
                         100 * want: f"that is a percentage; the question asks for a share between 0 and 1 "
                                     f"({100 * want:.1f} % is {want:.3f})."})
