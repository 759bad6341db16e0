"""The copy-similarity report of `make grade`: copying is flagged for a person, independent work is not, no grade moves."""

from __future__ import annotations

import copy
import csv

import nbformat
import pytest

from conftest import ROOT
from grader import similarity

A = "07_concat_and_output"
FUNCTION = "multi_head_self_attention"


def notebook_with(source: str) -> str:
    nb = nbformat.read(ROOT / "exercises" / A / f"{A}.ipynb", as_version=4)
    nb = copy.deepcopy(nb)
    nb.cells.append(nbformat.v4.new_code_cell(source))
    return nbformat.writes(nb)


REFERENCE = similarity.learner_functions("concat_and_output", {FUNCTION})[FUNCTION]
# the reference with every name changed and its comments reworded: what renaming-insensitive comparison must see
RENAMED = (REFERENCE.replace("w_q", "wq").replace("w_k", "wk").replace("w_v", "wv").replace("w_o", "wo")
           .replace("num_heads", "n_heads").replace("# ", "# note: "))
OWN = '''def multi_head_self_attention(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    """My own layer."""
    batch, length, width = x.shape
    size = width // num_heads
    heads = []
    for i in range(num_heads):
        cols = slice(i * size, (i + 1) * size)
        q, k, v = x @ w_q[:, cols], x @ w_k[:, cols], x @ w_v[:, cols]
        s = q @ k.transpose(1, 2) / size ** 0.5
        if mask is not None:
            s = s.masked_fill(~(mask if mask.dim() == 3 else mask.expand(batch, length, length)), float("-inf"))
        p = torch.exp(s - s.amax(-1, keepdim=True).clamp_min(-1e30))
        p = p / p.sum(-1, keepdim=True).clamp_min(1e-30)
        heads.append((p @ v, p))
    z = torch.cat([h for h, _ in heads], dim=-1)
    return z @ w_o, torch.stack([p for _, p in heads], dim=1)
'''
FRIEND = OWN.replace("heads", "parts").replace("size", "dk").replace("My own layer.", "Mine too.")


@pytest.fixture(scope="module")
def pairs():
    reference = similarity.learner_functions("concat_and_output", {FUNCTION})
    skeleton = similarity.definitions(notebook_with(""), {FUNCTION})
    submissions = {"copier": notebook_with(RENAMED), "own": notebook_with(OWN), "friend": notebook_with(FRIEND),
                   "nothing": notebook_with("x = 1")}
    return similarity.compare(A, reference, skeleton, submissions)


def flagged(pairs) -> set[tuple[str, str]]:
    return {(p.learner, p.other) for p in pairs if p.flagged}


def test_a_renamed_copy_of_the_reference_is_flagged(pairs):
    assert ("copier", similarity.REFERENCE) in flagged(pairs)


def test_two_learners_sharing_one_function_are_flagged(pairs):
    assert ("friend", "own") in flagged(pairs) or ("own", "friend") in flagged(pairs)


def test_independent_work_is_not_flagged(pairs):
    assert ("own", similarity.REFERENCE) not in flagged(pairs)
    assert not any("copier" in pair and ("own" in pair or "friend" in pair) for pair in flagged(pairs))
    assert not any("nothing" in pair for pair in flagged(pairs))


def test_the_skeleton_alone_is_not_similarity():
    reference = similarity.learner_functions("concat_and_output", {FUNCTION})
    skeleton = similarity.definitions(notebook_with(""), {FUNCTION})
    untouched = {"a": notebook_with(""), "b": notebook_with("")}
    assert not [p for p in similarity.compare(A, reference, skeleton, untouched) if p.flagged]


def test_the_report_is_written_and_summarised(pairs, tmp_path):
    path = similarity.write(tmp_path / "similarity.csv", pairs)
    rows = list(csv.DictReader(path.open()))
    assert {"assignment", "function", "learner", "other", "similarity", "flagged"} <= set(rows[0])
    assert any(r["learner"] == "copier" and r["flagged"] == "yes" for r in rows)
    back = similarity.read(path)
    assert {(p.learner, p.other) for p in back if p.flagged} == flagged(pairs) and len(back) == len(pairs)
    text = similarity.summary(pairs)
    assert "copier and (reference)" in text and "no grade changed" in text


def test_the_summary_stays_readable_for_a_class():
    """25 near-identical notebooks flag hundreds of pairs: the 10 strongest, grouped by function, then one count line."""
    learners = [f"learner{i:02d}" for i in range(25)]
    pairs = [similarity.Pair(A, function, a, b, 0.8 + (i % 7) / 100, 0.9)
             for function in ("merge_heads", "multi_head_self_attention")
             for i, (a, b) in enumerate((a, b) for a in learners for b in learners if a < b)]
    pairs.append(similarity.Pair("04_attention", "softmax", "copier", similarity.REFERENCE, 1.0, 1.0))
    text = similarity.summary(pairs)
    lines = text.splitlines()
    shown = [line for line in lines if line.startswith("    ")]
    assert len(shown) == 10 and len(lines) <= 10 + 3 + 2  # header, at most one line per function, the count
    assert lines[1] == "  04_attention softmax:" and lines[2] == "    copier and (reference): 100% / 100%"  # highest first
    headers = [line for line in lines if line.startswith("  ") and not line.startswith("    ") and line.endswith(":")]
    assert len(headers) == len(set(headers))  # each function once
    assert lines[-1] == (f"  … and {len(pairs) - 10} more pair(s) at or above 80%, in 2 function(s): "
                         f"all in similarity.csv")
    few = similarity.summary(pairs[:3])
    assert "more pair" not in few and len(few.splitlines()) == 1 + 1 + 3 + 1
