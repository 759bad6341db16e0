"""Named checks for exercise 05_self_attention: one function per graded cell of the notebook.

Visible checks use the lecture note's sizes: X of (B=3, T=4, d_model=16) projected to d_k = d_v = 2;
hidden ones use sizes that all differ (d_k ≠ d_v ≠ d_model), float64, random and causal masks, a
query with nothing to attend to, `meta` tensors, and CUDA when present.
`F.scaled_dot_product_attention`, `nn.MultiheadAttention` and `mhsa_ref` are not allowed.
"""

from __future__ import annotations

import importlib
import math
from typing import Callable

import torch
from torch import Tensor

from mhsa_ref.checks._core import (CheckFailure, call, expect_close, expect_exact, expect_results, expect_tensor,
                                   on_cuda, passed, randn, random_mask)
from mhsa_ref.checks.attention import ATTENTION_RULES, _sdpa_suspects, _variant
from mhsa_ref.checks._questions import expect_answer, form_passed, near, read_choice, read_float

# `mhsa_ref.self_attention` is the function (the package exports it); the module is fetched by its full name.
ref = importlib.import_module("mhsa_ref.self_attention")

__all__ = [
    "qkv_values",
    "qkv_shapes_and_dtypes",
    "qkv_devices",
    "causal_values",
    "causal_sizes_and_devices",
    "self_attention_values",
    "self_attention_shapes_and_dtypes",
    "self_attention_masks",
    "self_attention_fully_masked_row",
    "self_attention_devices",
    "padding_values",
    "padding_cases",
    "reversed_words_form",
    "reversed_words_question",
    "fourth_weight_form",
    "fourth_weight_question",
    "bank_attends_form",
    "bank_attends_question",
]


def _inputs(b: int, t: int, d_model: int, d_k: int, d_v: int, *, seed: int, dtype=torch.float32, device="cpu"):
    scale = 1 / math.sqrt(d_model)  # keeps the scores of order 1, as trained weights do
    return (randn((b, t, d_model), seed=seed, dtype=dtype, device=device),
            randn((d_model, d_k), seed=seed + 1, dtype=dtype, device=device) * scale,
            randn((d_model, d_k), seed=seed + 2, dtype=dtype, device=device) * scale,
            randn((d_model, d_v), seed=seed + 3, dtype=dtype, device=device) * scale)


def _context(x: Tensor, w_q: Tensor, w_v: Tensor, mask: Tensor | None = None) -> str:
    return (f"for x {tuple(x.shape)}, w_q and w_k {tuple(w_q.shape)}, w_v {tuple(w_v.shape)} ({str(x.dtype)[6:]})"
            + (f", mask {tuple(mask.shape)}" if mask is not None else ""))


# ---------------------------------------------------------------------------------------------
# project_qkv


def _qkv_suspects(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, part: int) -> dict[str, Callable[[], Tensor]]:
    names = ("q", "k", "v")
    weights = (w_q, w_k, w_v)
    suspects = {}
    for other in range(3):
        if other != part:
            suspects[f"{names[part]} was computed with w_{names[other]}; {names[part]} = x @ w_{names[part]}."] = (
                lambda o=other: x @ weights[o]
            )
    if weights[part].size(0) == weights[part].size(1):
        suspects[f"the weight was transposed: {names[part]} = x @ w_{names[part]} with w of shape (d_model, d_out), "
                 f"as in X × W^Q = Q (nn.Linear stores the transpose)."] = lambda: x @ weights[part].T
    return suspects


def _expect_qkv(project_qkv: Callable, x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor) -> None:
    context = _context(x, w_q, w_v)
    got = call(project_qkv, x, w_q, w_k, w_v, name="project_qkv", rules=ATTENTION_RULES, context=context)
    want = ref.project_qkv(x, w_q, w_k, w_v)
    got = expect_results(got, ("q", "k", "v"), name="project_qkv", context=context)
    for part, name in enumerate(("q", "k", "v")):
        expect_close(got[part], want[part], what=name, context=context,
                     suspects=_qkv_suspects(x, w_q, w_k, w_v, part))


def qkv_values(project_qkv: Callable) -> None:
    """Visible: X of (B=3, T=4, d_model=16) and weights (16, 2): the note's sizes."""
    _expect_qkv(project_qkv, *_inputs(3, 4, 16, 16, 16, seed=404))  # square first: a transpose then still runs
    _expect_qkv(project_qkv, *_inputs(3, 4, 16, 2, 2, seed=400))
    passed("qkv_values", "Q, K, V = X W^Q, X W^K, X W^V for X (3, 4, 16) and square and (16, 2) weights")


def qkv_shapes_and_dtypes(project_qkv: Callable) -> None:
    """Hidden: d_model=7, d_k=5, d_v=3 (all differ), B=1, T=1, float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        _expect_qkv(project_qkv, *_inputs(2, 6, 7, 5, 3, seed=410, dtype=dtype))
        _expect_qkv(project_qkv, *_inputs(1, 1, 4, 2, 6, seed=420, dtype=dtype))
    passed("qkv_shapes_and_dtypes", "d_k ≠ d_v ≠ d_model, B = T = 1, float32 and float64")


def qkv_devices(project_qkv: Callable) -> None:
    """Hidden: `meta` tensors, and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        x, w_q, w_k, w_v = _inputs(2, 6, 7, 5, 3, seed=0, dtype=dtype, device="meta")
        context = f"for x and weights on the meta device ({str(dtype)[6:]}), which has shapes but no values"
        got = call(project_qkv, x, w_q, w_k, w_v, name="project_qkv", rules=ATTENTION_RULES, context=context)
        got = expect_results(got, ("q", "k", "v"), name="project_qkv", context=context)
        for part, want in enumerate(ref.project_qkv(x, w_q, w_k, w_v)):
            expect_tensor(got[part], want, what="qkv"[part], context=context)

    def cuda_run() -> None:
        _expect_qkv(project_qkv, *_inputs(2, 6, 7, 5, 3, seed=430, device="cuda"))

    passed("qkv_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# causal_mask


def _causal_suspects(t: int) -> dict[str, Callable[[], Tensor]]:
    ones = torch.ones(t, t, dtype=torch.bool)
    return {
        "the mask is upper-triangular (triu): row t is the query at position t, which may attend to positions "
        "≤ t, so True lies on and below the diagonal (tril).": lambda: ones.triu(),
        "the diagonal is False: a position may attend to itself (tril with diagonal=0, not -1).":
            lambda: ones.tril(-1),
        "the mask is inverted: in this course True means 'may attend', so the past and the diagonal are True.":
            lambda: ~ones.tril(),
    }


def _expect_causal(causal_mask: Callable, t: int, device=None) -> None:
    context = f"for T={t}" + (f" and device={device!r}" if device is not None else "")
    args = (t,) if device is None else (t, device)
    got = call(causal_mask, *args, name="causal_mask", context=context)
    want = ref.causal_mask(t, device=device)
    if isinstance(got, Tensor) and got.shape == want.shape and got.dtype != torch.bool:
        raise CheckFailure(f"causal_mask returned {got.dtype} {context}; a mask is a bool tensor (True = may "
                           f"attend). 1/0 masks do not work with masked_fill(~mask, ...) or torch.where.")
    if want.device.type == "meta":
        expect_tensor(got, want, what="the causal mask", context=context)
    else:
        expect_exact(got, want, what="causal mask", context=context, suspects=_causal_suspects(t))


def causal_values(causal_mask: Callable) -> None:
    """Visible: T=4, the four tokens of "I have a dream"."""
    _expect_causal(causal_mask, 4)
    passed("causal_values", "(4, 4) bool, True on and below the diagonal")


def causal_sizes_and_devices(causal_mask: Callable) -> None:
    """Hidden: T=1 and T=7; the `device` argument (meta, and CUDA when present)."""
    _expect_causal(causal_mask, 1)
    _expect_causal(causal_mask, 7)
    _expect_causal(causal_mask, 5, torch.device("meta"))

    def cuda_run() -> None:
        _expect_causal(causal_mask, 6, torch.device("cuda"))

    passed("causal_sizes_and_devices", f"T = 1 and 7, created on the requested device; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# self_attention


def _self_suspects(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, mask: Tensor | None, part: int):
    q, k, v = ref.project_qkv(x, w_q, w_k, w_v)
    suspects = _sdpa_suspects(q, k, v, mask, part)
    d_model = x.size(-1)
    if d_model != q.size(-1):
        suspects["the scores were scaled by 1/√d_model (the width of x); the scale uses d_k, the width of q and k."] = (
            lambda: _variant(q, k, v, mask, scale=1 / math.sqrt(d_model))[part]
        )
    return suspects


_NAN = ("a query whose keys are all masked gives NaN: torch.softmax of a row of -inf is 0/0. Such a row must give "
        "zero weights and a zero output: e.g. weights.nan_to_num(0.0), or torch.where(mask, weights, 0) after a "
        "softmax whose masked scores are -inf.")


def _expect_self(self_attention: Callable, x, w_q, w_k, w_v, mask=None) -> None:
    context = _context(x, w_q, w_v, mask)
    got = call(self_attention, x, w_q, w_k, w_v, mask, name="self_attention", rules=ATTENTION_RULES, context=context)
    want_z, want_w = ref.self_attention(x, w_q, w_k, w_v, mask)
    z, weights = expect_results(got, ("z", "weights"), name="self_attention", context=context)
    expect_close(weights, want_w, what="the weights", context=context,
                 suspects=_self_suspects(x, w_q, w_k, w_v, mask, 1), nan_hint=_NAN)
    expect_close(z, want_z, what="z", context=context,
                 suspects={"z should be weights @ v, with v = x @ w_v.": lambda: want_w @ x}, nan_hint=_NAN)


def self_attention_values(self_attention: Callable) -> None:
    """Visible: the note's sizes, X (3, 4, 16) and d_k = d_v = 2, without and with a causal mask."""
    inputs = _inputs(3, 4, 16, 2, 2, seed=500)
    _expect_self(self_attention, *inputs)
    _expect_self(self_attention, *inputs, ref.causal_mask(4))
    passed("self_attention_values", "Z and its weights for X (3, 4, 16), d_k = 2, with and without a causal mask")


def self_attention_shapes_and_dtypes(self_attention: Callable) -> None:
    """Hidden: d_model=7, d_k=5, d_v=3, T=6, B=2 (all differ), and B = T = 1, float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        _expect_self(self_attention, *_inputs(2, 6, 7, 5, 3, seed=510, dtype=dtype))
        _expect_self(self_attention, *_inputs(1, 1, 4, 2, 6, seed=520, dtype=dtype))
    passed("self_attention_shapes_and_dtypes", "d_k ≠ d_v ≠ d_model, B = T = 1, float32 and float64")


def self_attention_masks(self_attention: Callable) -> None:
    """Hidden: causal masks and random masks of shape (T, T) and (B, T, T); every row keeps a key."""
    for dtype in (torch.float32, torch.float64):
        inputs = _inputs(2, 6, 7, 5, 3, seed=530, dtype=dtype)
        _expect_self(self_attention, *inputs, ref.causal_mask(6))
        _expect_self(self_attention, *inputs, random_mask((6, 6), seed=531))
        _expect_self(self_attention, *inputs, random_mask((2, 6, 6), seed=532))
    passed("self_attention_masks", "causal and random masks, (T, T) and (B, T, T), True = may attend")


def self_attention_fully_masked_row(self_attention: Callable) -> None:
    """Hidden: a query that may attend to nothing gets zero weights and a zero output."""
    for dtype in (torch.float32, torch.float64):
        mask = random_mask((2, 6, 6), seed=540)
        mask[0, 3, :] = False
        mask[1, 0, :] = False
        _expect_self(self_attention, *_inputs(2, 6, 7, 5, 3, seed=541, dtype=dtype), mask)
    passed("self_attention_fully_masked_row", "a row with no allowed key gives zeros, not NaN")


def self_attention_devices(self_attention: Callable) -> None:
    """Hidden: `meta` tensors (nothing created on a fixed device), and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        x, w_q, w_k, w_v = _inputs(2, 6, 7, 5, 3, seed=0, dtype=dtype, device="meta")
        for mask in (None, torch.empty((2, 6, 6), dtype=torch.bool, device="meta")):
            context = f"for inputs{' and mask' if mask is not None else ''} on the meta device ({str(dtype)[6:]})"
            got = call(self_attention, x, w_q, w_k, w_v, mask, name="self_attention", rules=ATTENTION_RULES,
                       context=context)
            got = expect_results(got, ("z", "weights"), name="self_attention", context=context)
            for part, (what, want) in enumerate(zip(("z", "the weights"), ref.self_attention(x, w_q, w_k, w_v, mask))):
                expect_tensor(got[part], want, what=what, context=context)

    def cuda_run() -> None:
        inputs = _inputs(2, 6, 7, 5, 3, seed=550, device="cuda")
        _expect_self(self_attention, *inputs, ref.causal_mask(6, device="cuda"))

    passed("self_attention_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# causal_padding_mask


def _padding_suspects(lengths: Tensor, t: int) -> dict[str, Callable[[], Tensor]]:
    positions = torch.arange(t, device=lengths.device)
    causal = ref.causal_mask(t, device=lengths.device)
    is_word = positions < lengths.unsqueeze(-1)  # (B, T)
    return {
        "the padding was taken out of the queries (rows) instead of the keys (columns): what must never be attended "
        "to is a padding *key*, so combine causal_mask(T) with is_word[b, s] on the last axis, "
        "is_word.unsqueeze(1) -> (B, 1, T).": lambda: causal & is_word.unsqueeze(-1),
        "the two masks were combined with | (or); a key must be both in the past and a word: combine with & (and).":
            lambda: causal | is_word.unsqueeze(1),
        "one padding position was let in (s <= length): the words are the keys 0 … length − 1, so keep "
        "s < length.": lambda: causal & (positions <= lengths.unsqueeze(-1)).unsqueeze(1),
        "the padding mask is missing: every sentence got the plain causal mask, so words attend to padding.":
            lambda: causal.expand(lengths.size(0), t, t),
        "the causal part is upper-triangular (triu); a query may attend to positions ≤ t (tril).":
            lambda: causal.T & is_word.unsqueeze(1),
        "the mask is inverted (True where a key is blocked): in the course, as in F.scaled_dot_product_attention, "
        "True means \"may attend\" (nn.MultiheadAttention reads it the other way round).":
            lambda: ~(causal & is_word.unsqueeze(1)),
        "the diagonal was left out (s < t): a word may attend to itself, s ≤ t (torch.tril keeps the diagonal).":
            lambda: (causal & ~torch.eye(t, dtype=torch.bool, device=lengths.device)) & is_word.unsqueeze(1),
        "the rows of padding queries were blanked as well; only padding *keys* are forbidden (a padding query's "
        "row may keep its weights: its output is never read).":
            lambda: causal & is_word.unsqueeze(1) & is_word.unsqueeze(-1),
    }


def _expect_padding(causal_padding_mask: Callable, lengths: Tensor, t: int) -> None:
    shown = lengths.tolist() if lengths.device.type != "meta" else f"of shape {tuple(lengths.shape)} on meta"
    context = f"for lengths {shown} and T={t}"
    got = call(causal_padding_mask, lengths, t, name="causal_padding_mask", context=context)
    want = ref.causal_padding_mask(lengths, t)
    if isinstance(got, Tensor) and got.shape == want.shape and got.dtype != torch.bool:
        raise CheckFailure(f"causal_padding_mask returned {got.dtype} {context}; a mask is a bool tensor (True = "
                           f"may attend): combine bool masks with & and compare positions with <, <=.")
    if want.device.type == "meta":
        expect_tensor(got, want, what="the mask", context=context)
        return
    longest = int(lengths.max()) if lengths.numel() else t
    if isinstance(got, Tensor) and got.dim() == 3 and got.shape[1:] == (longest, longest) != (t, t):
        raise CheckFailure(f"Wrong shape for the mask {context}: got {tuple(got.shape)}, expected {tuple(want.shape)}."
                           f"\n  Likely cause: the size came from the lengths (lengths.max()); the mask is (B, T, T) "
                           f"for the padded length T, even when no sentence fills it.")
    expect_exact(got, want, what="mask", context=context, suspects=_padding_suspects(lengths, t))


def padding_values(causal_padding_mask: Callable) -> None:
    """Visible: the note's B=3, T=4: "I have a dream" (4 words), a 2-word and a 3-word sentence."""
    _expect_padding(causal_padding_mask, torch.tensor([4, 2, 3]), 4)
    passed("padding_values", "(3, 4, 4): causal, and no word attends to padding")


def padding_cases(causal_padding_mask: Callable) -> None:
    """Hidden: no padding at all (the causal mask), one-word sentences, T=7, int32 lengths, `meta`, CUDA."""
    _expect_padding(causal_padding_mask, torch.tensor([5, 5]), 5)
    _expect_padding(causal_padding_mask, torch.tensor([1, 7, 3, 1]), 7)
    _expect_padding(causal_padding_mask, torch.tensor([2], dtype=torch.int32), 3)
    _expect_padding(causal_padding_mask, torch.empty(3, dtype=torch.long, device="meta"), 6)

    def cuda_run() -> None:
        _expect_padding(causal_padding_mask, torch.tensor([3, 1, 4], device="cuda"), 4)

    passed("padding_cases", f"no padding, one-word sentences, T = 7, int32 lengths, meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run


def reversed_words_form(answer_reversed_words: object) -> None:
    """Visible: the answer is one of the letters a, b, c."""
    read_choice(answer_reversed_words, "abc", what="answer_reversed_words")
    form_passed("reversed_words_form", "one letter")


def reversed_words_question(answer_reversed_words: object) -> None:
    """Hidden: what reversing the words of X (no mask) does to Z."""
    got = read_choice(answer_reversed_words, "abc", what="answer_reversed_words")
    expect_answer(got, "b", name="reversed_words_question",
                  summary="(b): self-attention without positions is permutation-equivariant",
                  why=("each word's row of Z depends on its own query and on the *set* of keys and values of the "
                       "sentence, not on their order: reversing the rows of X reverses the rows of Q, K and V, the "
                       "weights are permuted along both axes, and every word gets exactly the vector it had, in "
                       "its new place. Z is the same set of points, reversed: \"dream a have I\" and \"I have a "
                       "dream\" are the same to self-attention. Positional encodings (chapter 09) or a causal mask "
                       "break this symmetry."),
                  wrong={"a": "Z's rows are not in the same order: the row of \"I\" moves with \"I\" to the end.",
                         "c": "nothing in a row of Z depends on the order of the other words: each word keeps its "
                              "vector, only the rows move."})


def fourth_weight_form(answer_fourth_weight: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_fourth_weight, what="answer_fourth_weight")
    form_passed("fourth_weight_form", "one number")


def fourth_weight_question(answer_fourth_weight: object) -> None:
    """Hidden: with the causal mask and equal scores, the fourth word's weight on the first."""
    got = read_float(answer_fourth_weight, what="answer_fourth_weight")
    x = torch.ones(1, 4, 2, dtype=torch.float64)  # every word the same point: every score equal
    eye = torch.eye(2, dtype=torch.float64)
    want = ref.self_attention(x, eye, eye, eye, ref.causal_mask(4))[1][0, 3, 0].item()
    expect_answer(got, want, name="fourth_weight_question", close=near(),
                  summary="0.25: the fourth word may attend to 4 words, all scored alike",
                  why=("row 3 of the causal mask allows keys 0, 1, 2 and 3: four equal scores, so softmax gives 1/4 "
                       "to each, the first word included. Row t of a causal mask with equal scores is uniform over "
                       "its t + 1 allowed keys: 1, 1/2, 1/3, 1/4 down the rows."),
                  wrong={1.0: "1 is the first word's weight on itself; the fourth word shares its weight among 4 keys.",
                         0.0: "the first word is in the fourth word's past, so the causal mask lets it attend to it.",
                         1 / 3: "the fourth word may attend to itself too: 4 keys, not 3.",
                         0.5: "the fourth word has 4 allowed keys, not 2."})


def bank_attends_form(answer_bank_attends: object) -> None:
    """Visible: the answer is one of the letters a, b, c, d, e."""
    read_choice(answer_bank_attends, "abcde", what="answer_bank_attends")
    form_passed("bank_attends_form", "one letter")


def bank_attends_question(answer_bank_attends: object) -> None:
    """Hidden: which word "bank" attends to most in the notebook's experiment."""
    from mhsa_ref import widgets, word2vec

    got = read_choice(answer_bank_attends, "abcde", what="answer_bank_attends")
    tokens = "we went to the bank to watch the herons".split()
    _, _, weights = widgets.attention_scene(word2vec.pretrained(), tokens, d_k=2, attention=ref.self_attention)
    row = weights[tokens.index("bank")]
    top = tokens[int(row.argmax())]
    letters = {"we": "a", "to": "b", "watch": "c", "herons": "d", "bank": "e"}
    expect_answer(got, letters.get(top, "?"), name="bank_attends_question",
                  summary=f"({letters.get(top, '?')}): \"{top}\", {row.max():.2f} of \"bank\"'s weight",
                  why=(f"the measured row of \"bank\": {', '.join(f'{t} {w:.2f}' for t, w in zip(tokens, row.tolist()))}. "
                       f"These weights come from the chapter's chosen W^Q = W^K, the two main directions of the word2vec "
                       f"space, and W^V = I: \"bank\" attends most to the words whose points score highest with its "
                       f"own there, not to the word that decides its sense (\"herons\"). Chosen weights measure "
                       f"similarity in one plane; trained W^Q and W^K choose what to look for (chapter 09)."),
                  wrong={"d": "\"herons\" decides the sense, but these chosen weights score similarity in the "
                              "word2vec plane, where other words score higher: see the row your cell printed.",
                         "e": "a word often puts much weight on itself, but here its own score is lower than that of "
                              "other words: see the row your cell printed."})
