"""Named checks for exercise 06_split_heads: one function per graded cell of the notebook.

Visible checks use the lecture note's sizes: (B=3, T=4, d_model=16) split into h=8 heads of d_k=2,
the `[3, 8, 4, 2]` of the note. Hidden ones use sizes that all differ (B=2, T=5, h=8, d_k=7),
one head, one head per feature, float64, masks of every accepted shape, a query with nothing to
attend to, `meta` tensors, and CUDA when present.
`F.scaled_dot_product_attention`, `nn.MultiheadAttention` and `mhsa_ref` are not allowed.
"""

from __future__ import annotations

import importlib
import math
from typing import Callable

import torch
from torch import Tensor

from mhsa_ref import _validate
from mhsa_ref.checks._core import (dtype_name, CheckFailure, GraderError, call, expect_close, expect_tensor, invoke, on_cuda,
                                   passed, randn, random_mask, with_head_axis_hint)
from mhsa_ref.checks.attention import ATTENTION_RULES
from mhsa_ref.checks._questions import expect_answer, form_passed, read_choice, read_head, read_int, read_ints

# `mhsa_ref.split_heads` is the function (the package exports it); the module is fetched by its full name.
ref = importlib.import_module("mhsa_ref.split_heads")

__all__ = [
    "split_values",
    "split_bad_heads",
    "split_shapes_and_dtypes",
    "split_devices",
    "weights_values",
    "weights_shapes_and_dtypes",
    "weights_masked_row",
    "weights_masks",
    "weights_devices",
    "norms_values",
    "norms_cases",
    "view_without_transpose_form",
    "view_without_transpose_question",
    "strides_form",
    "strides_question",
    "longest_head_form",
    "longest_head_question",
]


# ---------------------------------------------------------------------------------------------
# split_heads


def _split_suspects(x: Tensor, h: int) -> dict[str, Callable[[], Tensor]]:
    B, T, d_model = x.shape
    d_k = d_model // h
    return {
        "x was viewed as (B, h, T, d_k) directly. That cuts each sentence's memory into h runs of T·d_k numbers, "
        "so a head's T rows are pieces of one or two tokens, not the T tokens. View as (B, T, h, d_k) first, "
        "then transpose(1, 2).":
            lambda: x.reshape(B, h, T, d_k),
        "the features were dealt out round-robin (feature j to head j % h): view as (B, T, d_k, h) puts the "
        "head axis last. Head i takes the d_k consecutive features i·d_k … (i+1)·d_k − 1: view as (B, T, h, d_k).":
            lambda: x.reshape(B, T, d_k, h).permute(0, 3, 1, 2),
        "the split is right but the axes are (B, T, h, d_k): transpose(1, 2) to bring the heads before T.":
            lambda: x.reshape(B, T, h, d_k),
        "the last two axes are swapped, (B, h, d_k, T): transpose(1, 2) of the (B, T, h, d_k) view, not "
        "transpose(1, 3) or a permute that moves d_k.": lambda: x.reshape(B, T, h, d_k).permute(0, 2, 3, 1),
    }


def _expect_split(split_heads: Callable, x: Tensor, h: int) -> None:
    context = f"for x {tuple(x.shape)} ({dtype_name(x)}) and num_heads={h}"
    got = call(split_heads, x, h, name="split_heads", rules=ATTENTION_RULES, context=context)
    want = ref.split_heads(x, h)
    if want.device.type == "meta":
        expect_tensor(got, want, what="the heads", context=context)
        return
    expect_close(got, want, what="the heads", context=context, suspects=_split_suspects(x, h))


def split_values(split_heads: Callable) -> None:
    """Visible: (3, 4, 16) into 8 heads of width 2, the note's [3, 8, 4, 2]."""
    x = torch.arange(3 * 4 * 16, dtype=torch.float32).reshape(3, 4, 16)  # every number tells where it came from
    _expect_split(split_heads, x, 8)
    _expect_split(split_heads, randn((3, 4, 16), seed=600), 8)
    passed("split_values", "(3, 4, 16) -> (3, 8, 4, 2): head i holds features 2i and 2i+1 of every token")


def split_bad_heads(split_heads: Callable) -> None:
    """Visible: num_heads that does not divide d_model raises ValueError naming both numbers."""
    x = randn((2, 3, 10), seed=601)
    for h in (3, 4):
        context = f"for x {tuple(x.shape)} and num_heads={h} (10 is not divisible by {h})"
        try:
            got = invoke(split_heads, x, h)
        except ValueError as e:
            message = str(e)
            if "10" not in message or str(h) not in message:
                raise CheckFailure(
                    f"split_heads raised ValueError {context}, but its message does not say which numbers were wrong: "
                    f"{message!r}. Say both, e.g. f\"d_model={{d_model}} is not divisible by num_heads={{num_heads}}\"."
                ) from None
            continue
        except (NotImplementedError, GraderError):
            raise
        except Exception as e:
            raise CheckFailure(
                f"split_heads raised {type(e).__name__} {context}: {e}\n  Expected a ValueError with a clear message; "
                f"check d_model % num_heads before viewing, and raise ValueError yourself."
            ) from None
        raise CheckFailure(
            f"split_heads returned {tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__} {context}; "
            f"expected a ValueError. With d_model % num_heads != 0 the heads cannot have equal widths."
        )
    passed("split_bad_heads", "ValueError naming d_model and num_heads when h does not divide d_model")


def split_shapes_and_dtypes(split_heads: Callable) -> None:
    """Hidden: B=2, T=5, h=8, d_k=7 (all differ); one head; one head per feature; float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        x = randn((2, 5, 56), seed=610, dtype=dtype)
        for h in (8, 1, 56):
            _expect_split(split_heads, x, h)
        _expect_split(split_heads, randn((1, 1, 6), seed=611, dtype=dtype), 3)
    passed("split_shapes_and_dtypes", "B=2, T=5, h=8, d_k=7; h = 1 and h = d_model; B = T = 1; float32 and float64")


def split_devices(split_heads: Callable) -> None:
    """Hidden: `meta` tensors, and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        _expect_split(split_heads, randn((2, 5, 56), seed=0, dtype=dtype, device="meta"), 8)

    def cuda_run() -> None:
        _expect_split(split_heads, randn((2, 5, 56), seed=620, device="cuda"), 8)

    passed("split_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# multi_head_attention_weights


def _softmax(scores: Tensor, mask: Tensor | None, dim: int = -1) -> Tensor:
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim).nan_to_num(0.0)


def _weights_suspects(q: Tensor, k: Tensor, h: int, mask: Tensor | None) -> dict[str, Callable[[], Tensor]]:
    B, T, d_model = q.shape
    S, d_k = k.size(1), d_model // h
    qh, kh = ref.split_heads(q, h), ref.split_heads(k, h)  # (B, h, T, d_k), (B, h, S, d_k)
    m = _validate.head_mask(mask, B, h, T, S, q.device)
    scores = qh @ kh.transpose(-2, -1)  # (B, h, T, S)
    suspects = {
        "the scores were scaled by 1/√d_model; each head compares vectors of width d_k = d_model / h, so the "
        "scale is 1/√d_k.": lambda: _softmax(scores / math.sqrt(d_model), m),
        "the scores were not scaled; divide by √d_k, the width of one head.": lambda: _softmax(scores, m),
        "softmax ran over the queries (dim=-2); each query's weights over the keys (dim=-1) must sum to 1.":
            lambda: _softmax(scores / math.sqrt(d_k), m, dim=-2),
        "the heads were split with view(B, h, T, d_k) and no transpose, so a head's rows are not the sentence's "
        "tokens; use your split_heads.": lambda: _softmax(
            q.reshape(B, h, T, d_k) @ k.reshape(B, h, S, d_k).transpose(-2, -1) / math.sqrt(d_k), m),
        "the attention was computed once over the whole d_model and copied to every head; split q and k into "
        "heads first, so each head compares its own d_k features.": lambda: _softmax(
            (q @ k.transpose(-2, -1) / math.sqrt(d_k)).unsqueeze(1).expand(B, h, T, S), m),
    }
    if mask is not None:
        suspects["the mask is inverted: in this course True means 'may attend'."] = (
            lambda: _softmax(scores / math.sqrt(d_k), ~m))
    return suspects


_NAN = ("a query whose keys are all masked gives NaN: softmax of a row of -inf is 0/0. Such a row must give zero "
        "weights, e.g. weights.nan_to_num(0.0) after torch.softmax.")


def _context(q: Tensor, h: int, mask: Tensor | None) -> str:
    return (f"for q and k {tuple(q.shape)} ({dtype_name(q)}) and num_heads={h}"
            + (f", mask {tuple(mask.shape)}" if mask is not None else ""))


def _expect_weights(weights_fn: Callable, q: Tensor, k: Tensor, h: int, mask: Tensor | None = None) -> None:
    context = _context(q, h, mask)
    try:
        got = call(weights_fn, q, k, h, mask, name="multi_head_attention_weights", rules=ATTENTION_RULES,
                   context=context)
    except CheckFailure as e:
        raise with_head_axis_hint(e, mask) from e
    want = ref.multi_head_attention_weights(q, k, h, mask)
    if want.device.type == "meta":
        expect_tensor(got, want, what="the weights", context=context)
        return
    expect_close(got, want, what="the weights", context=context, suspects=_weights_suspects(q, k, h, mask),
                 nan_hint=_NAN)


def weights_values(weights_fn: Callable) -> None:
    """Visible: q and k of the note's size (3, 4, 16), 8 heads of d_k = 2, without and with a causal mask."""
    q, k = randn((3, 4, 16), seed=650), randn((3, 4, 16), seed=651)
    _expect_weights(weights_fn, q, k, 8)
    _expect_weights(weights_fn, q, k, 8, torch.ones(4, 4, dtype=torch.bool).tril())
    passed("weights_values", "(3, 4, 16) with 8 heads -> (3, 8, 4, 4), scaled by 1/√d_k, with and without a mask")


def weights_shapes_and_dtypes(weights_fn: Callable) -> None:
    """Hidden: B=2, T=3, S=5, h=8, d_k=7 (all differ); one head; float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        q, k = randn((2, 3, 56), seed=660, dtype=dtype), randn((2, 5, 56), seed=661, dtype=dtype)
        _expect_weights(weights_fn, q, k, 8)
        _expect_weights(weights_fn, q, k, 1)
    passed("weights_shapes_and_dtypes", "B=2, T=3, S=5, h=8, d_k=7 and h = 1, float32 and float64")


def weights_masked_row(weights_fn: Callable) -> None:
    """Visible: the note's q and k (3, 4, 16), 8 heads, a (T, S) mask whose third query may attend to nothing."""
    q, k = randn((3, 4, 16), seed=660), randn((3, 4, 16), seed=661)
    mask = torch.ones(4, 4, dtype=torch.bool)
    mask[2] = False  # a query with nothing to attend to: zero weights, where torch.softmax gives NaN
    _expect_weights(weights_fn, q, k, 8, mask)
    passed("weights_masked_row", "a query whose every key is masked gets zero weights in every head, not NaN")


def weights_masks(weights_fn: Callable) -> None:
    """Hidden: masks (T, S), (B, T, S), (B, h, T, S) and (1, h, T, S); a query with nothing to attend to."""
    for dtype in (torch.float32, torch.float64):
        q, k = randn((2, 3, 56), seed=670, dtype=dtype), randn((2, 5, 56), seed=671, dtype=dtype)
        for seed, shape in enumerate([(3, 5), (2, 3, 5), (2, 8, 3, 5), (1, 8, 3, 5)]):
            _expect_weights(weights_fn, q, k, 8, random_mask(shape, seed=672 + seed))
        empty = random_mask((2, 3, 5), seed=680)
        empty[1, 2, :] = False
        _expect_weights(weights_fn, q, k, 8, empty)
    passed("weights_masks", "(T, S), (B, T, S), (B, h, T, S) and (1, h, T, S) masks; a fully masked row gives zeros")


def weights_devices(weights_fn: Callable) -> None:
    """Hidden: `meta` tensors (nothing created on a fixed device), and CUDA when present."""
    for dtype in (torch.float32, torch.float64):
        q, k = randn((2, 3, 56), seed=0, dtype=dtype, device="meta"), randn((2, 5, 56), seed=0, dtype=dtype, device="meta")
        _expect_weights(weights_fn, q, k, 8)
        # a (T, S) mask: a mask that needs a head axis is test_weights_masks's case, so one mistake costs one cell
        _expect_weights(weights_fn, q, k, 8, torch.empty((3, 5), dtype=torch.bool, device="meta"))

    def cuda_run() -> None:
        q, k = randn((2, 3, 56), seed=690, device="cuda"), randn((2, 5, 56), seed=691, device="cuda")
        _expect_weights(weights_fn, q, k, 8, random_mask((3, 5), seed=692, device="cuda"))

    passed("weights_devices", f"device- and dtype-agnostic on meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# head_norms


def _norms_suspects(x: Tensor, h: int) -> dict[str, Callable[[], Tensor]]:
    B, T, d_model = x.shape
    d_k = d_model // h
    return {
        "x was viewed as (B, h, T, d_k) directly, so a head's rows are pieces of one or two tokens, not the T "
        "tokens: split as split_heads does, view (B, T, h, d_k) then transpose(1, 2), and take the norm of the "
        "last axis.": lambda: x.reshape(B, h, T, d_k).norm(dim=-1),
        "these are the squared lengths; the length is the square root of the sum of squares (.norm(dim=-1)).":
            lambda: ref.split_heads(x, h).pow(2).sum(-1),
        "the axes are (B, T, h): transpose(1, 2) so that each head holds its T tokens, (B, h, T).":
            lambda: x.reshape(B, T, h, d_k).norm(dim=-1),
        "the norm ran over the tokens (dim=-2), not over each head's d_k numbers (dim=-1).":
            lambda: ref.split_heads(x, h).norm(dim=-2),
        "each head got the length of the whole token vector: a head sees only its own d_k numbers.":
            lambda: x.norm(dim=-1).unsqueeze(1).expand(B, h, T),
        "d_model was split as (d_k, h), so head i got every h-th number; split_heads cuts it as (h, d_k): head i "
        "owns the d_k consecutive numbers i·d_k … (i+1)·d_k − 1.": lambda: x.reshape(B, T, d_k, h).norm(dim=-2)
        .transpose(1, 2),
        "the sum of absolute values (the L1 norm) was taken; the length is the Euclidean norm, √(Σ x²).":
            lambda: ref.split_heads(x, h).abs().sum(-1),
        "the square root of the mean of squares (divided by d_k) was taken; the length is √(Σ x²), no division.":
            lambda: ref.split_heads(x, h).pow(2).mean(-1).sqrt(),
        "num_heads and d_k were swapped: there are num_heads heads, each d_model / num_heads wide, not d_k heads of "
        "width num_heads.": lambda: x.reshape(B, T, d_k, h).norm(dim=-1).transpose(1, 2),
        "x was transposed to (B, d_model, T) before the reshape, which mixes tokens and features: split the last "
        "axis first (view (B, T, h, d_k)), then move the head axis (transpose(1, 2)).":
            lambda: x.transpose(1, 2).reshape(B, h, T, d_k).norm(dim=-1),
    }


def _expect_norms(head_norms: Callable, x: Tensor, h: int) -> None:
    context = f"for x {tuple(x.shape)} ({dtype_name(x)}) and num_heads={h}"
    got = call(head_norms, x, h, name="head_norms", rules=ATTENTION_RULES, context=context)
    want = ref.head_norms(x, h)
    if want.device.type == "meta":
        expect_tensor(got, want, what="the head norms", context=context)
        return
    expect_close(got, want, what="the head norms", context=context, suspects=_norms_suspects(x, h))


def norms_values(head_norms: Callable) -> None:
    """Visible: (3, 4, 16) into 8 heads, the note's sizes: (3, 8, 4) lengths of points in planes."""
    _expect_norms(head_norms, randn((3, 4, 16), seed=630), 8)
    passed("norms_values", "(3, 4, 16) with 8 heads -> (3, 8, 4): the length of every token's point in every plane")


def norms_cases(head_norms: Callable) -> None:
    """Hidden: B=2, T=5, h=8, d_k=7; one head (the whole vector's length); float64; `meta`; CUDA."""
    for dtype in (torch.float32, torch.float64):
        x = randn((2, 5, 56), seed=640, dtype=dtype)
        for h in (8, 1, 56):
            _expect_norms(head_norms, x, h)
        _expect_norms(head_norms, randn((2, 5, 56), seed=0, dtype=dtype, device="meta"), 8)

    def cuda_run() -> None:
        _expect_norms(head_norms, randn((2, 5, 56), seed=641, device="cuda"), 8)

    passed("norms_cases", f"h = 8, 1 and d_model, float32 and float64, meta tensors; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run


def view_without_transpose_form(answer_view_without_transpose: object) -> None:
    """Visible: the answer is one of the letters a, b, c."""
    read_choice(answer_view_without_transpose, "abc", what="answer_view_without_transpose")
    form_passed("view_without_transpose_form", "one letter")


def view_without_transpose_question(answer_view_without_transpose: object) -> None:
    """Hidden: what head 0 of x.view(3, 8, 4, 2), without the transpose, holds."""
    got = read_choice(answer_view_without_transpose, "abc", what="answer_view_without_transpose")
    x = torch.arange(3 * 4 * 16).reshape(3, 4, 16)
    head0 = x.view(3, 8, 4, 2)[0, 0]  # (4, 2)
    options = {"a": x[0, :, 0:2], "b": x[0, 0, 0:8].view(4, 2), "c": x[0, :, 0:1].expand(4, 2)}
    want = next(letter for letter, held in options.items() if torch.equal(held, head0))
    expect_answer(got, want, name="view_without_transpose_question",
                  summary=f"({want}): view reads memory in order, so head 0 is the first 8 numbers of token 0",
                  why=("view never moves a number: it reads the (4, 16) numbers of a sentence in memory order and "
                       "cuts them into the new shape. The first 4 · 2 = 8 of them, features 0–7 of token 0, become "
                       "head 0's 4 \"tokens\"; head 1 gets features 8–15 of token 0, head 2 token 1's first 8, … "
                       "The shape is right, the meaning is not. Viewing as (B, T, h, d_k) first keeps each token's "
                       "features together, and transpose(1, 2) then gives each head all T tokens."),
                  wrong={"a": "features 0–1 of every token is what split_heads gives (view then transpose); without "
                              "the transpose, view cuts the memory in order.",
                         "c": "view keeps consecutive numbers together; it never picks one feature from every token."})


def strides_form(answer_strides: object) -> None:
    """Visible: the answer is a tuple of 4 ints."""
    read_ints(answer_strides, 4, what="answer_strides", minimum=1)
    form_passed("strides_form", "a tuple of 4 ints")


def strides_question(answer_strides: object) -> None:
    """Hidden: the strides of split_heads(x, 4) for a contiguous x of shape (2, 5, 24)."""
    got = read_ints(answer_strides, 4, what="answer_strides", minimum=1)
    want = tuple(ref.split_heads(torch.empty(2, 5, 24), 4).stride())
    expect_answer(got, want, name="strides_question",
                  summary=f"{want}: the view's strides (120, 24, 6, 1), its two middle ones swapped",
                  why=("x (2, 5, 24) is contiguous: strides (120, 24, 1). view(2, 5, 4, 6) cuts the last axis, "
                       "strides (120, 24, 6, 1): the next head is 6 numbers on, the next token 24. transpose(1, 2) "
                       "swaps the head and token axes, and their strides with them: (120, 6, 24, 1). Nothing moves in "
                       "memory; that is why view right after it fails (chapter 07)."),
                  wrong={(120, 30, 6, 1): "those are the strides of a contiguous (2, 4, 5, 6) tensor; the transpose "
                                          "only swaps strides, the memory stays in (B, T, h, d_k) order.",
                         (120, 24, 6, 1): "those are the strides after view(2, 5, 4, 6), before the transpose swaps "
                                          "the head and token axes."})


def longest_head_form(answer_longest_head: object) -> None:
    """Visible: the answer is one head index, 0 … 7."""
    read_head(answer_longest_head, 8, what="answer_longest_head")
    form_passed("longest_head_form", "one head index")


def longest_head_question(answer_longest_head: object) -> None:
    """Hidden: in which head "bank"'s query point is longest, in the notebook's experiment."""
    from mhsa_ref import widgets, word2vec

    got = read_int(answer_longest_head, what="answer_longest_head")
    tokens = "we went to the bank to watch the herons".split()
    x = widgets.head_points(word2vec.pretrained(), tokens)  # (1, T, 16)
    w_q = widgets.head_weights(16, 8)[0]
    lengths = ref.head_norms(x @ w_q, 8)[0, :, tokens.index("bank")]  # (h,)
    want = int(lengths.argmax())
    expect_answer(got, want, name="longest_head_question",
                  summary=f"head {want}: \"bank\"'s query is {lengths[want]:.2f} long there",
                  why=(f"the measured lengths of \"bank\"'s query in heads 0 … 7: "
                       f"{', '.join(f'{v:.2f}' for v in lengths.tolist())}. One point becomes 8 points, and they are "
                       f"not alike: a head whose query is long gives sharp scores (its dot products are large), one "
                       f"whose query is short gives flat ones. The squares of the 8 lengths add up to the squared "
                       f"length of the whole query."),
                  wrong={int(lengths.argmin()): "that is the head where \"bank\"'s query is shortest; the question "
                                                "asks for the longest."})
