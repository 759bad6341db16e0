"""The exercise pipeline end to end, through plain nbgrader commands and the repo's nbgrader_config.py.

A throwaway course directory gets the repo's config and solutions/; nbgrader regenerates every
learner copy (which must equal the committed exercises/), autogrades a class of two (the solutions
and the untouched learner copies) in every assignment, writes feedback and exports grades.

`nbgrader validate` is checked where learners press Validate: in `make lab` (test_lab.py, and
test_browser.py in JupyterLab itself), in the learner kit (test_learner_kit.py: ada's nine notebooks
pass, ben is told his mistake) and on the course hub (test_hub.py). That every released notebook,
untouched, fails a visible check (so validate cannot pass it) is test_checks.py's, in one process.

"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import torch

import demo_builder
import notebook_cells
from conftest import ROOT, tool_env

pytestmark = pytest.mark.slow

# Every assignment nbgrader knows, as the Makefile finds them (solutions/[0-9][0-9]_*).
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and re.fullmatch(r"\d\d_\w+", p.name))
FULL = {"01_one_hot": 16.0, "02_word2vec": 15.0, "03_elmo": 13.0, "04_attention": 18.0, "05_self_attention": 17.0,
        "06_split_heads": 15.0, "07_concat_and_output": 19.0, "08_cost_and_gpu": 14.0,
        "09_trained_heads": 18.0}

# ben's score in each assignment and the graded cells his mistakes fail (every other cell passes).
BEN = {
    # cosine_similarity without a zero-vector guard: 0 / 0 = NaN.
    "01_one_hot": (15.0, {"test_cosine_zero_vectors"}),
    # skipgram_pairs pairs each word with itself; sgns_loss takes log(sigmoid(x)), -inf for large |x|.
    "02_word2vec": (11.0, {"test_pairs_values", "test_pairs_edge_cases", "test_sgns_stability"}),
    # bidirectional_targets puts 0 (a real word) where there is no target, not -100.
    "03_elmo": (10.0, {"test_targets_values", "test_targets_edge_cases"}),
    # softmax without the max shift (exp overflows, NaN); scores divided by d_k, not √d_k; and he divides
    # scores of entries of variance 4 by √d_k, as if the entries had variance 1 (4, where 16 is right).
    "04_attention": (9.0, {"test_softmax_stability", "test_sdpa_values", "test_sdpa_shapes_and_dtypes",
                           "test_sdpa_masks", "test_sdpa_fully_masked_row", "test_score_scale"}),
    # causal_mask masks the diagonal too; torch.softmax's NaN for a fully masked row is not repaired.
    "05_self_attention": (14.0, {"test_causal_values", "test_causal_sizes_and_devices",
                                "test_self_attention_fully_masked_row"}),
    # split_heads never checks num_heads (view's RuntimeError); a (B, T, S) mask is not given a head axis (one
    # graded cell: the device checks use (T, S) masks, so this mistake costs nothing there).
    "06_split_heads": (13.0, {"test_split_bad_heads", "test_weights_masks"}),
    # the module multiplies by each nn.Linear's weight alone, so its biases are never added.
    "07_concat_and_output": (16.0, {"test_module_matches_torch", "test_module_options_and_devices"}),
    # a multiply-add counted as 1 FLOP; softmax upcast to float32 and never cast back (bfloat16 in, float32 out).
    "08_cost_and_gpu": (9.0, {"test_flops_values", "test_flops_sizes", "test_layer_gpu_path"}),
    # the sines and cosines concatenated (all sines, then all cosines), not interleaved; remove_heads zeroes the
    # heads' columns of W^O, not their rows; he takes the sense's head for the form's, and more parameters for
    # what one head lacks.
    "09_trained_heads": (9.0, {"test_positions_values", "test_positions_sizes", "test_remove_values",
                               "test_remove_cases", "test_form_head", "test_one_head"}),
}
# On a grading machine with CUDA, the hidden device checks also run zero vectors and fully masked rows
# there, so the same mistakes cost ben one more cell in 01 and two more in 04.
if torch.cuda.is_available():
    BEN["01_one_hot"] = (14.0, BEN["01_one_hot"][1] | {"test_cosine_devices"})
    BEN["04_attention"] = (7.0, BEN["04_attention"][1] | {"test_softmax_devices", "test_sdpa_devices"})
# A phrase of the check messages that names each of ben's mistakes, as his feedback shows it.
BEN_MISTAKES = {
    "01_one_hot": ["a zero vector has length 0"],
    "02_word2vec": ["the word was paired with itself", "log(sigmoid(x)) underflows"],
    "03_elmo": ["which is a real word index"],
    "04_attention": ["exp overflowed", "divided by d_k", "assumes entries of variance 1"],
    "05_self_attention": ["the diagonal is False", "NaN in the weights"],
    "06_split_heads": ["Expected a ValueError", "mask.unsqueeze(1)"],
    "07_concat_and_output": ["the biases were dropped"],
    "08_cost_and_gpu": ["multiply-add was counted as 1", "Wrong dtype"],
    "09_trained_heads": ["the sines and cosines were concatenated"],
}
# An identifier of each solution that neither the learner copy nor ben's answers contain.
SOLUTION_TOKENS = {"01_one_hot": "setdefault", "02_word2vec": "is_floating_point", "03_elmo": "full_like",
                   "04_attention": "clamp_min", "05_self_attention": ").tril()",
                   "06_split_heads": "the same mask for every head", "07_concat_and_output": "reshape copies",
                   "08_cost_and_gpu": "h heads × 2 products", "09_trained_heads": "(d_model/2,)"}


def nb_name(assignment: str) -> str:
    return f"{assignment}.ipynb"


def env() -> dict[str, str]:
    """tool_env() with one torch thread per process: autograde runs beside the other tests' work, and two
    threads each on a 2-core machine slow the training cells of 02 and 03 several times over."""
    return {**tool_env(), "OMP_NUM_THREADS": "1"}


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["nbgrader", *args], cwd=course, env=env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    every = "[0-9][0-9]_*"  # nbgrader takes a glob of assignments: one process, one set of grading workers
    nbgrader(course, "generate_assignment", every, "--log-level=WARN")
    for assignment in ASSIGNMENTS:
        nb = nb_name(assignment)
        learners = {
            "solution": ROOT / "solutions" / assignment / nb,
            "untouched": ROOT / "exercises" / assignment / nb,
        }
        for learner, source in learners.items():
            target = course / "submitted" / learner / assignment
            target.mkdir(parents=True)
            shutil.copy(source, target / nb)
    nbgrader(course, "autograde", every, "--log-level=WARN")
    nbgrader(course, "generate_feedback", every, "--log-level=WARN")
    nbgrader(course, "export", "--log-level=WARN")
    return course


def scores(course: Path, assignment: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(assignment)}


def cell_errors(course: Path, learner: str, assignment: str) -> dict[str, str | None]:
    """grade_id -> the error name in that graded cell's output (None if it passed)."""
    nb = nbformat.read(course / "autograded" / learner / assignment / nb_name(assignment), as_version=4)
    errors = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            errs = [o for o in cell.outputs if o.output_type == "error"]
            errors[meta["grade_id"]] = errs[0].ename if errs else None
    return errors


def graded_ids(assignment: str) -> set[str]:
    return {cell.grade_id for cell in notebook_cells.graded_cells(assignment)}


def hidden_checks(assignment: str) -> list[str]:
    """The check functions the solutions' hidden test blocks call, e.g. `softmax_stability`."""
    sources = "\n".join(cell.source for cell in notebook_cells.notebook(assignment).cells)
    blocks = re.findall(r"BEGIN HIDDEN TESTS(.*?)END HIDDEN TESTS", sources, flags=re.S)
    return sorted({name for block in blocks for name in re.findall(r"check\.(\w+)\(", block)})


def test_every_assignment_has_expectations():
    assert ASSIGNMENTS == ["01_one_hot", "02_word2vec", "03_elmo", "04_attention", "05_self_attention",
                           "06_split_heads", "07_concat_and_output", "08_cost_and_gpu", "09_trained_heads"]
    for table in (FULL, BEN, BEN_MISTAKES, SOLUTION_TOKENS):
        assert sorted(table) == ASSIGNMENTS
    for learner in ("ada", "ben"):
        assert sorted(demo_builder.ANSWERS[learner]) == ASSIGNMENTS


def test_generated_learner_copy_equals_the_committed_one(course):
    generated = sorted(p.relative_to(course / "exercises") for p in (course / "exercises").rglob("*") if p.is_file())
    committed = sorted(p.relative_to(ROOT / "exercises") for p in (ROOT / "exercises").rglob("*") if p.is_file())
    assert generated == committed
    assert {rel.parts[0] for rel in generated} == set(ASSIGNMENTS)
    for rel in generated:
        assert (course / "exercises" / rel).read_bytes() == (ROOT / "exercises" / rel).read_bytes(), (
            f"exercises/{rel} is stale: run `make exercises` and commit the result"
        )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_learner_copy_hides_solutions_and_hidden_tests(assignment):
    text = (ROOT / "exercises" / assignment / nb_name(assignment)).read_text()
    hidden = hidden_checks(assignment)
    assert hidden, f"{assignment} has no hidden checks"
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", SOLUTION_TOKENS[assignment],
                   *(f"check.{name}(" for name in hidden)):
        assert secret not in text, f"exercises/{assignment} shows {secret!r}"
    nb = nbformat.reads(text, as_version=4)
    stubs = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    solutions = [c for c in notebook_cells.notebook(assignment).cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(stubs) == len(solutions) > 0
    assert all("raise NotImplementedError()" in s for s in stubs)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_get_full_marks(course, assignment):
    assert scores(course, assignment)["solution"] == FULL[assignment]
    errors = cell_errors(course, "solution", assignment)
    assert set(errors) == graded_ids(assignment) and set(errors.values()) == {None}
    assert sum(c.points for c in notebook_cells.graded_cells(assignment)) == FULL[assignment]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_learner_copy_gets_zero_and_fails_only_with_not_implemented(course, assignment):
    assert scores(course, assignment)["untouched"] == 0
    errors = cell_errors(course, "untouched", assignment)
    assert set(errors) == graded_ids(assignment)
    # a function not written raises NotImplementedError; a question not answered has no answer_… to read
    questions = {c.grade_id for c in notebook_cells.graded_cells(assignment) if "(answer_" in c.source}
    assert questions and {errors[g] for g in questions} == {"CheckFailure"}
    assert {e for g, e in errors.items() if g not in questions} == {"NotImplementedError"}


def demo_verdicts(learner: str, assignment: str) -> dict[str, dict]:
    """grade_id -> the verdict `make`'s grading of the demo class kept for that graded cell."""
    kept = json.loads((ROOT / "autograded" / learner / assignment / "mhsa-verdicts.json").read_text())
    assert kept["reason"] in ("", None), kept["reason"]
    return {v["grade_id"]: v for v in kept["verdicts"]}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_demo_class_grades(made, assignment):
    assert scores(ROOT, assignment)["ada"] == FULL[assignment]
    ada = demo_verdicts("ada", assignment)
    assert set(ada) == graded_ids(assignment) and all(v["earned"] == v["points"] for v in ada.values())
    score, failing = BEN[assignment]
    assert 0 < score < FULL[assignment]
    assert scores(ROOT, assignment)["ben"] == score
    ben = demo_verdicts("ben", assignment)
    assert set(ben) == graded_ids(assignment)
    assert {gid for gid, v in ben.items() if v["earned"] < v["points"]} == failing
    # each lost by a failed check with its message, none by a crash, a timeout or an untrusted record (a flag)
    assert all(ben[gid]["earned"] == 0 and ben[gid]["message"] and not ben[gid]["flag"] for gid in failing)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_names_the_mistakes(made, assignment):
    html = (ROOT / "feedback" / "ben" / assignment / f"{assignment}.html").read_text()
    for phrase in BEN_MISTAKES[assignment]:
        assert phrase in html, f"ben's feedback for {assignment} does not say {phrase!r}"
    token = SOLUTION_TOKENS[assignment]
    assert token in (ROOT / "solutions" / assignment / nb_name(assignment)).read_text()
    assert not any(token in source for source in demo_builder.ANSWERS["ben"][assignment].values())
    assert token not in html  # the solution code never reaches a learner


def test_export_writes_every_learner(course):
    with open(course / "grades.csv") as f:
        rows = {(row["student_id"], row["assignment"]): float(row["score"]) for row in csv.DictReader(f)}
    assert {assignment for _, assignment in rows} == set(ASSIGNMENTS)
    expected = {(learner, assignment): score for assignment in ASSIGNMENTS
                for learner, score in scores(course, assignment).items()}
    assert set(expected) == {(l, a) for l in ("solution", "untouched") for a in ASSIGNMENTS}
    assert rows == expected


def test_committed_demo_submissions_are_up_to_date():
    expected = set()
    for learner, assignments in demo_builder.ANSWERS.items():
        for assignment in assignments:
            rebuilt = demo_builder.build(learner, assignment)
            committed = nbformat.read(demo_builder.path_of(learner, assignment), as_version=4)
            assert rebuilt == committed, f"run `python tests/demo_builder.py`: {learner}/{assignment} is stale"
            expected.add(demo_builder.path_of(learner, assignment))
    assert set(demo_builder.DEMO_DIR.rglob("*.ipynb")) == expected, "tests/demo_submissions has a notebook no learner writes"
