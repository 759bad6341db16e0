"""Named checks for exercise 09_trained_heads: one function per graded cell of the notebook.

`sinusoidal_positions` is checked on the encoder's size (T = 15, d_model = 16) and a small one
whose numbers can be worked by hand (visible), then on one pair, long sequences, a 512-wide model
and an odd width, which must be refused (hidden). `sense_separation` is checked on a 2-D example
with two senses (visible), then on three senses, uneven counts, ties, float64 and the 16-wide
points of the trained layer (hidden). Suspects are formed from the reference's own answers to
changed questions, so a wrong result is named by the mistake that gives it.
"""

from __future__ import annotations

import functools
import importlib
import math
from typing import Callable

import torch
from torch import Tensor

from mhsa_ref.checks._core import (CheckFailure, call, dtype_name, expect_close, expect_tensor, form_every_suspect,
                                   on_cuda, passed, randn)
from mhsa_ref.checks._questions import expect_answer, form_passed, near, read_choice, read_float, read_head, read_int

ref = importlib.import_module("mhsa_ref.trained_heads")

__all__ = [
    "positions_values",
    "positions_sizes",
    "separation_values",
    "separation_cases",
    "shift_values",
    "shift_cases",
    "position_norm_form",
    "position_norm_question",
    "remove_values",
    "remove_cases",
    "form_head_form",
    "form_head_question",
    "removable_form",
    "removable_question",
    "one_head_form",
    "one_head_question",
    "same_word_form",
    "same_word_question",
]


# ---------------------------------------------------------------------------------------------
# sinusoidal_positions


def _position_suspects(T: int, d: int) -> dict[str, Callable[[], Tensor]]:
    def swapped() -> Tensor:
        want = ref.sinusoidal_positions(T, d)
        return want.view(T, d // 2, 2).flip(-1).reshape(T, d)

    def concatenated() -> Tensor:
        want = ref.sinusoidal_positions(T, d)
        return torch.cat([want[:, 0::2], want[:, 1::2]], dim=1)

    def column_exponent() -> Tensor:
        out = ref.sinusoidal_positions(T, d).clone()
        out[:, 1::2] = ref.sinusoidal_positions(T, 2 * d)[:, 3::4]  # cos(p / 10000^((2i+1)/d))
        return out

    return {
        "sin and cos were swapped: column 2i holds sin(p / 10000^(2i/d_model)) and column 2i+1 the cos.": swapped,
        "the sines and cosines were concatenated (all sines, then all cosines); they interleave: pair i is "
        "columns 2i (sin) and 2i+1 (cos), at the same frequency.": concatenated,
        "the exponent is 2i/d_model with i the pair's index, not i/d_model: pair i turns at 1 / 10000^(2i/d_model), "
        "so the last pair's rate is 10000^(-(d_model-2)/d_model), near 1/10000.":
            lambda: ref.sinusoidal_positions(T, 2 * d)[:, :d],
        "the exponent used the column's index j for the cos columns too: both columns of pair i share one "
        "frequency, 1 / 10000^(2i/d_model) (the cos column 2i+1 must not get (2i+1)/d_model).": column_exponent,
        "positions start at 0, not 1: the first row is sin(0) = 0 and cos(0) = 1.":
            lambda: ref.sinusoidal_positions(T + 1, d)[1:],
    }


def _expect_positions(sinusoidal_positions: Callable, T: int, d: int) -> None:
    context = f"for seq_len={T}, d_model={d}"
    got = call(sinusoidal_positions, T, d, name="sinusoidal_positions", context=context)
    want = ref.sinusoidal_positions(T, d)
    if isinstance(got, Tensor) and got.dtype != want.dtype and got.shape == want.shape:
        raise CheckFailure(f"Wrong dtype for the encodings {context}: got {got.dtype}, expected torch.float32 "
                           f"(PyTorch's default, the embeddings' dtype).\n  Likely cause: a float64 computation "
                           f"(torch.arange(..., dtype=torch.float64), or numpy) never cast back with .float().")
    # float32 angles p·ω lose about T·1e-7 at position T, whichever correct way they are computed
    expect_close(got, want, what="the encodings", context=context, suspects=_position_suspects(T, d),
                 tol=(max(1e-5, 4e-7 * T), 1e-5))


def positions_values(sinusoidal_positions: Callable) -> None:
    """Visible: (4, 4), small enough to work by hand, and the encoder's (15, 16)."""
    _expect_positions(sinusoidal_positions, 4, 4)
    _expect_positions(sinusoidal_positions, 15, 16)
    passed("positions_values", "(4, 4) and (15, 16): sin in column 2i, cos in 2i+1, rate 1 / 10000^(2i/d_model)")


def positions_sizes(sinusoidal_positions: Callable) -> None:
    """Hidden: one pair, one position, long sequences, a 512-wide model; an odd width must be refused."""
    for T, d in [(7, 2), (1, 8), (2048, 64), (50, 512)]:
        _expect_positions(sinusoidal_positions, T, d)
    context = "for seq_len=4, d_model=7"
    try:
        got = call(sinusoidal_positions, 4, 7, name="sinusoidal_positions", context=context)
    except CheckFailure as e:
        if "raised ValueError" in str(e):
            got = None
        else:
            raise
    else:
        raise CheckFailure(f"`sinusoidal_positions` returned {type(got).__name__} {context}; expected a ValueError. "
                           f"sin and cos come in pairs, so an odd d_model has no encoding of this kind: raise "
                           f"ValueError saying that d_model must be even.")
    passed("positions_sizes", "one pair, one position, T = 2048, d_model = 512; an odd d_model raises ValueError")


# ---------------------------------------------------------------------------------------------
# sense_separation


def _separation_suspects(a: Tensor, sa: Tensor, b: Tensor, sb: Tensor) -> dict[str, Callable[[], float]]:
    def nearest_point() -> float:
        return float((sa[torch.cdist(b.double(), a.double()).argmin(1)] == sb).double().mean())

    return {
        "the centroids were the means of the test points: they must come from the training points only (the test "
        "points' senses are what is being predicted).": lambda: ref.sense_separation(b, sb, b, sb),
        "the number of right test points was returned; the score is their share, between 0 and 1 (divide by the "
        "number of test points).": lambda: ref.sense_separation(a, sa, b, sb) * len(sb),
        "each point went to its farthest centroid (argmax of the distance); take the nearest, argmin.":
            lambda: 1.0 - ref.sense_separation(a, sa, b, sb) if int(sa.max()) == 1 else None,  # two senses
        "each test point took the sense of its nearest training point (1-nearest neighbour); compare it with each "
        "sense's centroid, the mean of that sense's training points.": nearest_point,
    }


def _expect_separation(sense_separation: Callable, a: Tensor, sa: Tensor, b: Tensor, sb: Tensor, *,
                       context: str, hint: str = "") -> None:
    suspects = _separation_suspects(a, sa, b, sb)
    form_every_suspect(suspects)  # while the learner kit is built: store the reference answers they need
    got = call(sense_separation, a, sa, b, sb, name="sense_separation", context=context)
    want = ref.sense_separation(a, sa, b, sb)
    if isinstance(got, Tensor) and got.numel() == 1 and got.is_floating_point():
        got = float(got)
    if isinstance(got, bool) or not isinstance(got, (float, int)):
        raise CheckFailure(f"`sense_separation` returned {type(got).__name__} {context}; expected a float between "
                           f"0 and 1, the share of test points given their own sense (here {want:.4f}).")
    if math.isclose(got, want, abs_tol=1e-6):  # a float32 mean of 0s and 1s is exact to about 1e-7
        return
    cause = next((c for c, make in suspects.items()
                  if _value(make) is not None and math.isclose(got, _value(make), abs_tol=1e-6)), None)
    cause = cause or hint
    raise CheckFailure(f"`sense_separation` returned {got:.6g} {context}; expected {want:.6g}."
                       + (f"\n  Likely cause: {cause}" if cause else ""))


def _value(make: Callable[[], float | None]) -> float | None:
    try:
        value = make()
        return None if value is None else float(value)
    except Exception:  # a suspect that cannot be formed for these inputs says nothing
        return None


def _toy() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Money points left, river points right, in 2-D; the test points lie in between, where mistakes differ."""
    train = torch.tensor([[-2.0, 0.0], [-1.0, 1.0], [-1.5, -1.0], [2.0, 0.0], [3.0, 1.0], [1.0, -1.0]])
    train_senses = torch.tensor([0, 0, 0, 1, 1, 1])
    test = torch.tensor([[-1.0, 0.0], [0.5, 0.2], [1.5, 0.5], [-0.3, 0.0], [2.5, -0.5]])
    test_senses = torch.tensor([0, 0, 1, 1, 1])
    return train, train_senses, test, test_senses


def separation_values(sense_separation: Callable) -> None:
    """Visible: six training points and five test points in 2-D, two senses (centroids (-1.5, 0) and (2, 0))."""
    a, sa, b, sb = _toy()
    _expect_separation(sense_separation, a, sa, b, sb, context="on the 2-D example of the notebook")
    g = torch.Generator().manual_seed(900)
    sa2 = torch.randint(2, (40,), generator=g)
    a2 = randn((40, 16), seed=901) + 1.5 * sa2.unsqueeze(1)
    sb2 = torch.randint(2, (25,), generator=g)
    b2 = randn((25, 16), seed=902) + 1.5 * sb2.unsqueeze(1)
    _expect_separation(sense_separation, a2, sa2, b2, sb2, context="on 40 training and 25 test points in 16-D")
    passed("separation_values", "nearest-centroid accuracy on the 2-D example and on 16-D points")


def separation_cases(sense_separation: Callable) -> None:
    """Hidden: points far from the origin, three senses, uneven counts, float64, a tie."""
    # the same points shifted far from the origin: distances, not directions, decide
    a, sa, b, sb = _toy()
    b, sb = torch.cat([b, torch.tensor([[-2.5, 0.5]])]), torch.cat([sb, torch.tensor([0])])  # 3 and 3 test points
    far = torch.tensor([100.0, 0.0])  # both centroids now lie in one direction from the origin
    _expect_separation(sense_separation, a + far, sa, b + far, sb,
                       context="on the 2-D example, with one more money test point, moved by (100, 0)",
                       hint="a similarity that depends on the direction from the origin (cosine, dot product) was "
                            "used; the nearest centroid is the one at the smallest Euclidean distance.")
    g = torch.Generator().manual_seed(910)
    centres = torch.tensor([[0.0, 0.0, 3.0], [2.0, 0.0, 0.0], [0.0, 2.5, 0.0]], dtype=torch.float64)
    sa = torch.tensor([0] * 5 + [1] * 12 + [2] * 3)
    sb = torch.randint(3, (30,), generator=g)
    a = centres[sa] + randn((20, 3), seed=911, dtype=torch.float64)
    b = centres[sb] + 1.6 * randn((30, 3), seed=912, dtype=torch.float64)
    _expect_separation(sense_separation, a, sa, b, sb, context="for three senses (ids 0, 1, 2), float64",
                       hint="only two senses were handled; there are as many senses as ids, 0 … C − 1, and each "
                            "test point goes to the nearest of all C centroids.")
    # a point exactly between the two centroids: the tie goes to the smaller id, 0
    a = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
    sa = torch.tensor([0, 1])
    for sense in (0, 1):
        _expect_separation(sense_separation, a, sa, torch.zeros(1, 2), torch.tensor([sense]),
                           context=f"for one test point exactly between the centroids, of sense {sense}",
                           hint="a tie goes to the smaller sense id (torch.argmin does this).")
    passed("separation_cases", "three senses, a tie, points far from the origin, float64")


# ---------------------------------------------------------------------------------------------
# position_shift


def _shift_suspects(k: int, d: int) -> dict[str, Callable[[], Tensor]]:
    want = lambda: ref.position_shift(k, d)
    return {
        "the matrix is transposed: it turns every pair the other way, so PE[p] @ M gives PE[p − k]. For a row vector "
        "times M, the sin column 2i of the result takes +sin kω from the cos column: M[2i+1, 2i] = sin kω and "
        "M[2i, 2i+1] = −sin kω.": lambda: want().T,
        "the exponent is 2i/d_model with i the pair's index, not i/d_model: pair i turns by k / 10000^(2i/d_model), "
        "the rate of sinusoidal_positions.": lambda: ref.position_shift(k, 2 * d)[:d, :d],
        "each pair was turned by k radians, whatever its rate: pair i turns by k·ω_i, ω_i = 1 / 10000^(2i/d_model).":
            lambda: torch.block_diag(*[ref.position_shift(k, 2)] * (d // 2)),
        "the pairs were numbered from 1 (ω_i = 10000^(−2(i+1)/d_model)); the first pair, columns 0 and 1, turns "
        "at ω_0 = 1, one radian per position.": lambda: _rotations(k, [10000.0 ** (-2 * (i + 1) / d) for i in range(d // 2)]),
        "ω_i = 10000^(+2i/d_model): the rates grow instead of shrinking; ω_i = 1 / 10000^(2i/d_model), from one "
        "radian per position down to nearly nothing.": lambda: _rotations(k, [10000.0 ** (2 * i / d) for i in range(d // 2)]),
        "ω_i = e^(−2i/d_model): the base 10000 is missing; ω_i = 10000^(−2i/d_model) = e^(−(2i/d_model)·ln 10000).":
            lambda: _rotations(k, [math.exp(-2 * i / d) for i in range(d // 2)]),
        "the sines and cosines were paired as columns i and i + d_model/2 (two halves); they interleave: pair i is "
        "columns 2i (sin) and 2i + 1 (cos), as in sinusoidal_positions.": lambda: _halves(want()),
        "a negative offset gave the identity: turning by k·ω for k < 0 turns backwards (cos kω, sin kω with k < 0), "
        "it does not stand still.": lambda: torch.eye(d) if k < 0 else None,
    }


def _rotations(k: int, rates: list[float]) -> Tensor:
    """The block-diagonal matrix that turns pair i by k·rates[i], in the course's row-vector convention."""
    blocks = [torch.tensor([[math.cos(k * r), -math.sin(k * r)], [math.sin(k * r), math.cos(k * r)]]) for r in rates]
    return torch.block_diag(*blocks)


def _halves(m: Tensor) -> Tensor:
    """M with its interleaved pairs (2i, 2i + 1) moved to (i, i + d/2): the layout of sines first, then cosines."""
    d = m.size(0)
    order = torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])  # new position j holds old column order[j]
    return m[order][:, order]


def _expect_shift(position_shift: Callable, k: int, d: int) -> None:
    context = f"for offset={k}, d_model={d}"
    got = call(position_shift, k, d, name="position_shift", context=context)
    want = ref.position_shift(k, d)
    if isinstance(got, Tensor) and got.dtype != want.dtype and got.shape == want.shape:
        raise CheckFailure(f"Wrong dtype for the matrix {context}: got {got.dtype}, expected torch.float32, the "
                           f"encodings' dtype (compute in float64 if you like, then .float()).")
    # float32 angles k·ω lose about |k|·1e-7, whichever correct way they are computed
    expect_close(got, want, what="the shift matrix", context=context, suspects=_shift_suspects(k, d),
                 tol=(max(1e-5, 4e-7 * abs(k)), 1e-5))


def shift_values(position_shift: Callable) -> None:
    """Visible: offset 1 for d_model = 4 (by hand), offset 3 for the encoder's 16."""
    _expect_shift(position_shift, 1, 4)
    _expect_shift(position_shift, 3, 16)
    passed("shift_values", "PE[p] @ M = PE[p + k]: one 2×2 rotation by k·ω_i per pair")


def shift_cases(position_shift: Callable) -> None:
    """Hidden: offset 0 (the identity), negative offsets, one pair, 512 wide, offset 50."""
    for k, d in [(0, 8), (-2, 16), (5, 2), (50, 512), (-7, 64)]:
        _expect_shift(position_shift, k, d)
    passed("shift_cases", "offset 0 is the identity, negative offsets move back, d_model = 2 to 512")


# ---------------------------------------------------------------------------------------------
# questions: predict, then run


def position_norm_form(answer_position_norm: object) -> None:
    """Visible: the answer is one number."""
    read_float(answer_position_norm, what="answer_position_norm")
    form_passed("position_norm_form", "one number")


def position_norm_question(answer_position_norm: object) -> None:
    """Hidden: the length of a row of the (15, 16) encodings."""
    got = read_float(answer_position_norm, what="answer_position_norm")
    lengths = ref.sinusoidal_positions(15, 16).double().norm(dim=1)  # (15,): all equal
    want = lengths[7].item()
    expect_answer(got, want, name="position_norm_question", close=near(),
                  summary=f"√8 ≈ {want:.4f} for every position: each pair is a point on the unit circle",
                  why=("each of the d_model/2 = 8 pairs is (sin pω_i, cos pω_i), and sin² + cos² = 1, so "
                       "‖PE[p]‖² = 8 whatever p: every position has length √8 ≈ 2.828. The encodings differ by "
                       "direction only, so adding them to the embeddings never makes one position louder than "
                       "another."),
                  wrong={1.0: "each of the 8 pairs has length 1 (sin² + cos² = 1); the squares add up: ‖PE[p]‖² = 8.",
                         8.0: "8 is the squared length, the sum of the 8 pairs' sin² + cos² = 1; the length is √8.",
                         4.0: "there are d_model/2 = 8 pairs, each of squared length 1: the length is √8, not √16."})


# ---------------------------------------------------------------------------------------------
# remove_heads


def _remove_suspects(w: Tensor, heads: list[int], h: int) -> dict[str, Callable[[], Tensor]]:
    d_k = w.size(0) // h

    def zeroed(rows) -> Tensor:
        out = w.clone()
        out[rows] = 0
        return out

    def columns() -> Tensor:
        out = w.clone()
        for i in heads:
            out[:, i * d_k:(i + 1) * d_k] = 0
        return out

    def others() -> Tensor:
        return ref.remove_heads(w, [i for i in range(h) if i not in heads], h) if len(set(heads)) < h \
            else torch.zeros_like(w)

    return {
        "the columns of those heads were zeroed. The concatenation multiplies W^O from the left (concat @ W^O), so "
        "head i's block of the concatenation meets the rows i·d_k … (i+1)·d_k − 1 of W^O: zero those rows, every "
        "column of them.": columns,
        "one row per head was zeroed (row i); head i owns d_k = d_model / num_heads rows, i·d_k … (i+1)·d_k − 1.":
            lambda: zeroed(sorted(set(heads))),
        "rows i, i + h, i + 2h, … were zeroed (a stride of num_heads); merge_heads puts head i's d_k features side by "
        "side, head-major, so its rows of W^O are the contiguous block i·d_k … (i+1)·d_k − 1.":
            lambda: zeroed(sorted({r for i in heads for r in range(i, w.size(0), h)})),
        "every head but the given ones was removed: zero the rows of the heads listed in `heads`, keep the others.":
            others,
        "one row too many was zeroed for each head (rows i·d_k … (i+1)·d_k, the next head's first included); a "
        "slice's end is excluded: w_o[i·d_k:(i+1)·d_k] is exactly head i's d_k rows.":
            lambda: zeroed(sorted({r for i in heads for r in range(i * d_k, min((i + 1) * d_k + 1, w.size(0)))})),
        "one row too few was zeroed for each head (rows i·d_k … (i+1)·d_k − 2); a slice's end is already excluded: "
        "w_o[i·d_k:(i+1)·d_k] is exactly head i's d_k rows.":
            lambda: zeroed(sorted({r for i in heads for r in range(i * d_k, (i + 1) * d_k - 1)})) if d_k > 1 else None,
        "only the first head of the list was removed (a return inside the loop?); remove every head listed.":
            lambda: ref.remove_heads(w, heads[:1], h) if len(set(heads)) > 1 else None,
        "each head's block was num_heads rows (rows i·h … (i+1)·h − 1); a head owns d_k = d_model / num_heads rows.":
            lambda: zeroed(sorted({r for i in heads for r in range(i * h, min((i + 1) * h, w.size(0)))})),
    }


def _expect_removed(remove_heads: Callable, w: Tensor, heads: list[int], h: int) -> None:
    context = f"for w_o {tuple(w.shape)} ({dtype_name(w)}), heads={heads}, num_heads={h}"
    got = call(remove_heads, w, list(heads), h, name="remove_heads", context=context)
    want = ref.remove_heads(w, heads, h)
    if want.device.type == "meta":
        expect_tensor(got, want, what="W^O without those heads", context=context)
        return
    expect_close(got, want, what="W^O without those heads", context=context, suspects=_remove_suspects(w, heads, h),
                 tol=(0.0, 0.0))  # kept entries are copies and removed ones exact zeros


def _expect_refused(remove_heads: Callable, w: Tensor, heads: list, h: int, why: str) -> None:
    context = f"for heads={heads}, num_heads={h}"
    try:
        got = call(remove_heads, w, heads, h, name="remove_heads", context=context)
    except CheckFailure as e:
        if "raised ValueError" in str(e):
            return
        raise
    raise CheckFailure(f"`remove_heads` returned {type(got).__name__} {context}; expected a ValueError: {why}")


def remove_values(remove_heads: Callable) -> None:
    """Visible: the encoder's W^O (16 × 16) without head 2, then without heads 0 and 5 (8 heads of width 2);
    an index out of range is refused."""
    w = randn((16, 16), seed=930)
    _expect_removed(remove_heads, w, [2], 8)
    _expect_removed(remove_heads, w, [0, 5], 8)
    _expect_refused(remove_heads, w, [8], 8, "head 8 does not exist among heads 0 … 7; say which indices are valid.")
    passed("remove_values", "rows 2·d_k … 3·d_k − 1 of W^O zeroed for head 2, the rest kept; head 8 of 8 refused")


def remove_cases(remove_heads: Callable) -> None:
    """Hidden: 4 heads of width 4, 16 of width 1, every head, a repeated index, float64, meta tensors (and CUDA);
    an empty list and a negative index are refused."""
    w = randn((16, 16), seed=940, dtype=torch.float64)
    _expect_removed(remove_heads, w, [3], 4)
    _expect_removed(remove_heads, w, [0, 15, 7], 16)
    _expect_removed(remove_heads, w, [1, 1], 4)
    _expect_removed(remove_heads, randn((12, 12), seed=941), [0, 1, 2], 3)
    _expect_removed(remove_heads, randn((16, 16), seed=0, device="meta"), [1], 8)
    _expect_refused(remove_heads, w, [], 4, "an empty list removes nothing, which is a mistake worth saying; ask for "
                                            "at least one head.")
    _expect_refused(remove_heads, w, [-1], 4, "-1 is not a head index (Python would zero the last head's rows "
                                              "silently); each index must be in 0 … num_heads − 1.")

    def cuda_run() -> None:
        _expect_removed(remove_heads, randn((16, 16), seed=942, device="cuda"), [3, 4], 8)

    passed("remove_cases", f"widths 4 and 1, every head, repeats, float64 and meta tensors, empty and negative "
                           f"lists refused; {on_cuda(cuda_run)}")


# ---------------------------------------------------------------------------------------------
# questions on the experiment: the stored 8-head encoder (seed 1), each head removed in turn

EXPERIMENT = (8, 1)  # (num_heads, seed) of the stored encoder exercise 09 reads (trained_heads.STORED_ENCODERS)


@functools.lru_cache(maxsize=1)  # the stored encoder does not change while the course runs
def _experiment() -> tuple[list[dict], list[dict], dict]:
    """The reference's own run of the notebook's experiment: scores with each head removed, roles, and all heads."""
    trained = ref.load(*EXPERIMENT)
    return ref.ablation(trained), ref.head_roles(trained), ref.verb_scores(trained)


def form_head_form(answer_form_head: object) -> None:
    """Visible: the answer is one head index."""
    read_head(answer_form_head, EXPERIMENT[0], what="answer_form_head")
    form_passed("form_head_form", "one head index")


def form_head_question(answer_form_head: object) -> None:
    """Hidden: the head whose removal costs the verb's form the most."""
    got = read_int(answer_form_head, what="answer_form_head")
    removed, roles, full = _experiment()
    lost = [full["form_accuracy"] - r["form_accuracy"] for r in removed]
    want = max(range(len(lost)), key=lambda i: lost[i])
    looker = max(range(len(roles)), key=lambda i: roles[i]["subject"])
    sense = max(range(len(removed)), key=lambda i: full["sense_accuracy"] - removed[i]["sense_accuracy"])
    wrong = {}
    if looker != want:
        wrong[looker] = (f"head {looker} puts the most weight on the subject ({roles[looker]['subject']:.2f} on "
                         f"average), but without it the form accuracy only drops by {lost[looker]:.3f}. Where a head "
                         f"looks does not say what the layer needs from it: attention weights are not an explanation.")
    if sense != want:
        wrong.setdefault(sense, f"head {sense} is the one the sense needs most; the question asks about the form.")
    expect_answer(got, want, name="form_head_question",
                  summary=f"head {want}: without it the form accuracy drops by {lost[want]:.3f}",
                  why=(f"the experiment's table: removing head {want} alone drops the held-out form accuracy from "
                       f"{full['form_accuracy']:.3f} to {removed[want]['form_accuracy']:.3f}, more than any other "
                       f"head (the next: {sorted(lost)[-2]:.3f}). The form depends on the word just before the verb, "
                       f"and this is the head the layer reads it through."), wrong=wrong)


def removable_form(answer_removable: object) -> None:
    """Visible: the answer is a count of heads."""
    got = read_int(answer_removable, what="answer_removable")
    if got > EXPERIMENT[0]:
        raise CheckFailure(f"`answer_removable` should count heads of an {EXPERIMENT[0]}-head layer, 0 … "
                           f"{EXPERIMENT[0]}; got {got}.")
    form_passed("removable_form", "one count")


def removable_question(answer_removable: object) -> None:
    """Hidden: how many heads can each be removed alone with the verb accuracy still at or above 0.99."""
    got = read_int(answer_removable, what="answer_removable")
    removed, _, _ = _experiment()
    want = sum(r["verb_accuracy"] >= 0.99 for r in removed)
    accuracies = ", ".join(f"{r['verb_accuracy']:.3f}" for r in removed)
    expect_answer(got, want, name="removable_question",
                  summary=f"{want} of {EXPERIMENT[0]} heads: each alone can go with the verb still at 99 % or more",
                  why=(f"the held-out verb accuracy with each head removed in turn is {accuracies}; {want} of them are "
                       f"at 0.99 or more. Most heads can go one at a time, as Michel et al. (2019) found in trained "
                       f"Transformers; removing several at once is another question (chapter 09's pruning curve)."),
                  wrong={EXPERIMENT[0]: "not every head can go: the one the form or the sense depends on cannot.",
                         0: "count the heads whose removal leaves the verb accuracy at 0.99 or more: most can go."})


def one_head_form(answer_one_head: object) -> None:
    """Visible: the answer is one of the letters a, b, c, d."""
    read_choice(answer_one_head, "abcd", what="answer_one_head")
    form_passed("one_head_form", "one letter")


def one_head_question(answer_one_head: object) -> None:
    """Hidden: why one head cannot read two places through two maps, at the same number of parameters."""
    got = read_choice(answer_one_head, "abcd", what="answer_one_head")
    expect_answer(got, "a", name="one_head_question",
                  summary="(a): one softmax per query and one value map for everything the head reads",
                  why=("one head outputs Σ_s a_ts (x_s W^V) W^O: whatever weights it puts on t − 1 and t − 2, both "
                       "places go through the same map W^V W^O. That the weights depend on the keys' content adds one "
                       "direction more (rank 1, chapter 09 derives it), enough for one number, not for a pair read "
                       "from each place. Two heads have two softmaxes and two value maps: one reads t − 1, the other "
                       "t − 2."),
                  wrong={"b": "every h has the same four 16 × 16 matrices: the same number of parameters.",
                         "c": "the scores are divided by √d_k; a wide head is not saturated. Width is not what it lacks.",
                         "d": "its error stays flat for most of the training steps in every seed; more steps do not "
                              "help a map that cannot be written."})


def same_word_form(answer_same_word: object) -> None:
    """Visible: the answer is one of the letters a, b, c."""
    read_choice(answer_same_word, "abc", what="answer_same_word")
    form_passed("same_word_form", "one letter")


def same_word_question(answer_same_word: object) -> None:
    """Hidden: whether a layer without positions gives a word's two copies the same output."""
    got = read_choice(answer_same_word, "abc", what="answer_same_word")
    expect_answer(got, "a", name="same_word_question",
                  summary="(a): both copies of \"the\" get exactly the same vector",
                  why=("without positions, a word's input is its embedding alone, so the two \"the\" have the same "
                       "query, key and value. Each output is its query's weighted average over the same set of keys "
                       "and values, the whole sentence, so it is the same vector for both. The layer cannot tell "
                       "\"the dog\" from \"the cat\" by which \"the\" it is: that is what positions add."),
                  wrong={"b": "their neighbours are not different to the layer: both copies see the same set of words; "
                              "only the order differs, and without positions the layer has no order.",
                         "c": "equal outputs need no luck: same input, same query, same set of keys and values."})
