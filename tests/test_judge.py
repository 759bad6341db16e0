"""The judge (mhsa_ref.grading): verdicts decided from a record, never by running learner code.

The record is made where the learner's code runs, the verdict elsewhere. These tests prove the
two halves agree with grading in one process for every exercise, correct answer and known-wrong
implementation (tests/mutants), and that a record the judge cannot verify scores 0 with a flag.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import pickle
from unittest import mock

import pytest
import torch

from mhsa_ref.checks import _core
from mhsa_ref.grading import judge as J
from mhsa_ref.grading import trace
from mutants import (attention, concat_and_output, cost_and_gpu, elmo, one_hot, self_attention, split_heads,
                     trained_heads, word2vec)
from notebook_cells import grade, notebook, setup_source

EXERCISES = {m.ASSIGNMENT: m for m in (one_hot, word2vec, elmo, attention, self_attention, split_heads,
                                       concat_and_output, cost_and_gpu, trained_heads)}


def namespace(assignment: str, functions: dict) -> dict:
    ns: dict = {}
    exec(compile(setup_source(assignment), f"<{assignment} setup>", "exec"), ns)
    ns.update(functions)
    return ns


def records_of(assignment: str, functions: dict) -> dict:
    """What the learner's process sends: every graded cell's record, through JSON as it travels."""
    plan = J.plan(notebook(assignment))
    ns = namespace(assignment, {**EXERCISES[assignment].CORRECT, **functions})
    return json.loads(json.dumps({cell.grade_id: J.record(plan, ns, cell) for cell in plan.cells}))


def verdicts(assignment: str, records: dict) -> dict[str, J.Verdict]:
    return {v.grade_id: v for v in J.judge(J.plan(notebook(assignment)), records)}


@pytest.mark.parametrize("assignment", sorted(EXERCISES))
def test_judge_agrees_with_in_process_grading_on_every_mutant(assignment):
    """Same points and the same teaching message, cell by cell, for the correct answers and all mutants."""
    module = EXERCISES[assignment]
    cases = {"correct": {}} | {name: {m.function: m.fn} for name, m in module.MUTANTS.items()}
    disagreements = []
    for case, functions in cases.items():
        with contextlib.redirect_stdout(io.StringIO()):
            direct = {o.grade_id: o for o in grade(assignment, {**module.CORRECT, **functions})}
        for grade_id, verdict in verdicts(assignment, records_of(assignment, functions)).items():
            want = direct[grade_id]
            message = "" if want.error is None else str(want.error)
            same = verdict.earned == want.earned and not verdict.flag
            if want.error is not None and not isinstance(want.error, NotImplementedError):
                same = same and verdict.message == message
            if not same:
                disagreements.append((case, grade_id, want.earned, verdict.earned, verdict.flag or verdict.message[:200]))
    assert disagreements == []


def test_correct_answers_earn_every_point_with_the_checks_output():
    got = verdicts("06_split_heads", records_of("06_split_heads", {}))
    assert sum(v.earned for v in got.values()) == 10
    assert got["test_split_values"].message.startswith("✔ split_values")


# --- records the judge cannot trust score 0, with a flag -------------------------------------------


def test_a_missing_record_scores_zero_and_says_the_notebook_stopped():
    records = records_of("06_split_heads", {})
    del records["test_weights_masks"]
    got = verdicts("06_split_heads", records)
    assert got["test_weights_masks"].earned == 0 and "stopped" in got["test_weights_masks"].flag
    assert got["test_weights_values"].earned == 2  # the other cells keep their points


def test_a_forged_result_for_other_inputs_is_rejected():
    """A record made for inputs the judge did not choose (here: its arguments' digest altered)."""
    records = records_of("04_attention", {})
    records["test_softmax_values"]["events"][0]["digest"] = "0" * 64
    got = verdicts("04_attention", records)["test_softmax_values"]
    assert got.earned == 0 and "does not match the grader's own inputs" in got.flag


def test_reordered_cut_and_padded_records_are_rejected():
    base = records_of("05_self_attention", {})
    events = base["test_self_attention_masks"]["events"]
    cases = {"reordered": events[::-1], "cut": events[:-1], "padded": events + events[:1]}
    for name, changed in cases.items():
        records = copy.deepcopy(base)
        records["test_self_attention_masks"]["events"] = changed
        got = verdicts("05_self_attention", records)["test_self_attention_masks"]
        assert got.earned == 0 and got.flag.startswith("record rejected"), name


def test_a_record_claiming_a_pass_for_a_wrong_answer_earns_nothing():
    """The learner's process cannot decide: a wrong answer recorded with the checks patched to pass stays wrong."""
    plan = J.plan(notebook("04_attention"))
    ns = namespace("04_attention", {**attention.CORRECT, "softmax": attention.MUTANTS["softmax_no_max_shift"].fn})
    with mock.patch.object(_core, "expect_close", lambda *a, **k: None):  # what a learner's cell could do
        records = json.loads(json.dumps({c.grade_id: J.record(plan, ns, c) for c in plan.cells}))
    got = verdicts("04_attention", records)
    assert got["test_softmax_stability"].earned == 0
    assert "overflow" in got["test_softmax_stability"].message


@pytest.mark.parametrize("bad", [
    {"tensor": "float32", "shape": [2, 2], "device": "cpu", "data": base64.b64encode(b"\0" * 15).decode()},
    {"tensor": "object", "shape": [1], "device": "cpu", "data": ""},
    {"tensor": "float32", "shape": [-1], "device": "cpu", "data": ""},
    {"tensor": "float32", "shape": [1], "device": "tpu", "data": base64.b64encode(b"\0" * 4).decode()},
    {"seq": [{"v": 1}], "kind": "tuple", "length": 3},
    {"module": "M", "linears": {"__class__": {}}, "parameters": 0},
    {"nonsense": 1},
    ["not", "a", "record"],
])
def test_malformed_results_are_rejected(bad):
    records = records_of("04_attention", {})
    records["test_softmax_values"]["events"][0]["result"] = bad
    got = verdicts("04_attention", records)["test_softmax_values"]
    assert got.earned == 0 and got.flag


def test_nothing_is_ever_unpickled():
    """A pickle payload in place of tensor bytes is read as bytes (and rejected), never loaded."""
    payload = pickle.dumps(torch.ones(4))
    records = records_of("04_attention", {})
    records["test_softmax_values"]["events"][0]["result"] = {
        "tensor": "float32", "shape": [len(payload) // 4], "device": "cpu",
        "data": base64.b64encode(payload[: len(payload) // 4 * 4]).decode()}
    with mock.patch.object(pickle, "loads", side_effect=AssertionError("unpickled")), \
            mock.patch.object(pickle, "Unpickler", side_effect=AssertionError("unpickled")), \
            mock.patch.object(torch, "load", side_effect=AssertionError("torch.load")):
        got = verdicts("04_attention", records)["test_softmax_values"]
    assert got.earned == 0


def test_records_that_are_not_dicts_or_lists_are_flagged():
    records = records_of("04_attention", {})
    records["test_softmax_values"] = "all passed"
    records["test_sdpa_values"] = {"events": "all passed"}
    got = verdicts("04_attention", records)
    assert got["test_softmax_values"].earned == 0 and got["test_softmax_values"].flag
    assert got["test_sdpa_values"].earned == 0 and got["test_sdpa_values"].flag


def test_a_missing_function_is_named():
    plan = J.plan(notebook("06_split_heads"))
    ns = namespace("06_split_heads", {"split_heads": split_heads.split_heads})  # the other one never defined
    records = {c.grade_id: J.record(plan, ns, c) for c in plan.cells}
    got = verdicts("06_split_heads", json.loads(json.dumps(records)))
    assert got["test_split_values"].earned == 2
    assert got["test_weights_values"].earned == 0 and "`multi_head_attention_weights` is not defined" in got[
        "test_weights_values"].message


# --- the plan comes from the instructor's notebook only --------------------------------------------


def test_plan_reads_every_graded_cell_of_every_exercise():
    for assignment in EXERCISES:
        plan = J.plan(notebook(assignment))
        graded = [c for c in notebook(assignment).cells if c.metadata.get("nbgrader", {}).get("grade")
                  and not c.metadata["nbgrader"].get("solution")]
        assert [c.grade_id for c in plan.cells] == [c.metadata["nbgrader"]["grade_id"] for c in graded]
        assert plan.total == sum(c.metadata["nbgrader"]["points"] for c in graded)


def test_plan_refuses_a_graded_cell_it_cannot_judge():
    nb = copy.deepcopy(notebook("04_attention"))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_softmax_values")
    cell.source += "\nassert softmax(torch.zeros(2)).sum() == 1"
    with pytest.raises(J.PlanError, match="not a check call"):
        J.plan(nb)
    twin = copy.deepcopy(notebook("04_attention"))
    twin.cells.append(copy.deepcopy(next(c for c in twin.cells if c.metadata.get("nbgrader", {}).get("grade"))))
    with pytest.raises(J.PlanError, match="two graded cells"):
        J.plan(twin)


def test_trace_round_trips_values_exactly():
    values = [torch.randn(3, 4, dtype=torch.float64), torch.randn(2, dtype=torch.bfloat16), torch.arange(5),
              torch.empty(2, 3, device="meta"), (1, 2.5, float("inf")), {"a": 0, "b": 1}, None, True, 10**30,
              torch.float16, torch.zeros(0, 4)]
    for value in values:
        back = trace.decode(json.loads(json.dumps(trace.encode(value))))
        if isinstance(value, torch.Tensor):
            assert back.dtype == value.dtype and back.shape == value.shape and back.device == value.device
            if value.device.type != "meta":
                assert torch.equal(back, value)
        else:
            assert back == value
