"""The judge (grader): checks run outside the learner's process, calling its code across the wall.

The checks, with the reference, run in the judge; each call of a learner function is a request to
the learner's process (`remote.Server`), which sends back what the function returned. These tests
prove the two halves agree with grading in one process for every exercise, correct answer and
known-wrong implementation (tests/mutants), that nothing the learner's side sends can earn a point
its code did not compute, that it never receives an expected value, and that a reply the judge
cannot read scores 0 with a flag.
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

from mhsa_ref import attention as ref
from grader import judge as J
from grader.sandboxed import remote
from mhsa_ref import codec
from mutants import attention, by_assignment, split_heads
from notebook_cells import grade, notebook, setup_source

EXERCISES = by_assignment()


def namespace(assignment: str, functions: dict) -> dict:
    ns: dict = {}
    exec(compile(setup_source(assignment), f"<{assignment} setup>", "exec"), ns)
    ns.update(functions)
    return ns


def verdicts(assignment: str, functions: dict, channel=None) -> dict[str, J.Verdict]:
    """Every graded cell judged with the learner's side in this process, through JSON as on the pipe."""
    plan = J.plan(notebook(assignment))
    ns = namespace(assignment, {**EXERCISES[assignment].CORRECT, **functions})
    wall = channel(remote.Loopback(ns)) if channel else remote.Loopback(ns)
    return {c.grade_id: J.judge_cell(plan, c, wall) for c in plan.cells}


@pytest.mark.parametrize("assignment", sorted(EXERCISES))
def test_judge_agrees_with_in_process_grading_on_every_mutant(assignment):
    """Same points and the same teaching message, cell by cell, for the correct answers and all mutants."""
    module = EXERCISES[assignment]
    cases = {"correct": {}} | {name: {m.function: m.fn} for name, m in module.MUTANTS.items()}
    disagreements = []
    for case, functions in cases.items():
        with contextlib.redirect_stdout(io.StringIO()):
            direct = {o.grade_id: o for o in grade(assignment, {**module.CORRECT, **functions})}
        for grade_id, verdict in verdicts(assignment, functions).items():
            want = direct[grade_id]
            message = "" if want.error is None else str(want.error)
            same = verdict.earned == want.earned and not verdict.flag
            if want.error is not None and not isinstance(want.error, NotImplementedError):
                same = same and verdict.message == message
            if not same:
                disagreements.append((case, grade_id, want.earned, verdict.earned, verdict.flag or verdict.message[:200]))
    assert disagreements == []


def test_correct_answers_earn_every_point_with_the_checks_output():
    got = verdicts("06_split_heads", {})
    assert sum(v.earned for v in got.values()) == J.plan(notebook("06_split_heads")).total
    assert got["test_split_values"].message.startswith("✔ split_values")


class Spy:
    """A channel that keeps every request, and may change replies (what a patched learner's side could send)."""

    def __init__(self, inner, change=None) -> None:
        self.inner, self.change, self.requests = inner, change, []

    def __call__(self, request: dict) -> dict:
        self.requests.append(request)
        reply = self.inner(request)
        return self.change(request, reply) if self.change else reply


def test_the_learners_process_never_receives_an_expected_value():
    spies = []
    verdicts("04_attention", {}, channel=lambda inner: spies.append(Spy(inner)) or spies[-1])
    sent = [codec.decode(a) for r in spies[0].requests if r["op"] == "call" for a in r["args"]["seq"]]
    tensors = [t for t in sent if isinstance(t, torch.Tensor) and t.device.type != "meta" and t.is_floating_point()]
    assert tensors
    for x in tensors:  # no argument is the reference's softmax of another argument
        for y in tensors:
            if x.shape == y.shape and x.dtype == y.dtype:
                assert not torch.allclose(x, ref.softmax(y, -1), equal_nan=True)


def test_whatever_the_learners_side_claims_only_its_result_counts():
    """Replies that claim a pass, with a wrong result (a patched Server), earn nothing."""
    wrong = attention.MUTANTS["softmax_no_max_shift"].fn

    def claim(request, reply):
        return {**reply, "passed": True, "earned": 99, "verdict": "pass"}

    got = verdicts("04_attention", {"softmax": wrong}, channel=lambda inner: Spy(inner, claim))
    assert got["test_softmax_stability"].earned == 0 and "overflow" in got["test_softmax_stability"].message


def test_a_cell_the_notebook_never_reached_scores_zero_and_says_it_stopped():
    plan = J.plan(notebook("06_split_heads"))
    cell = next(c for c in plan.cells if c.grade_id == "test_weights_masks")
    got = J.judge_cell(plan, cell, None)
    assert got.earned == 0 and "stopped" in got.flag


def test_a_process_that_stops_during_a_check_scores_zero_with_a_flag():
    def stops(request, reply):
        raise codec.TraceError("the notebook's process stopped during this check: it was killed")

    got = verdicts("04_attention", {}, channel=lambda inner: Spy(inner, stops))["test_softmax_values"]
    assert got.earned == 0 and "stopped" in got.flag


@pytest.mark.parametrize("bad", [
    {"tensor": "float32", "shape": [2, 2], "device": "cpu", "data": base64.b64encode(b"\0" * 15).decode()},
    {"tensor": "object", "shape": [1], "device": "cpu", "data": ""},
    {"tensor": "float32", "shape": [-1], "device": "cpu", "data": ""},
    {"tensor": "float32", "shape": [1], "device": "tpu", "data": base64.b64encode(b"\0" * 4).decode()},
    {"seq": [{"v": 1}], "kind": "tuple", "length": 3},
    {"module": "M", "linears": {"__class__": {}}, "parameters": 0},
    {"nonsense": 1},
    ["not", "a", "record"],
    {"int": "x"},
    {"seq": 5},
    # a few hundred bytes that would make the judge allocate gigabytes: refused before anything is allocated
    {"module": "M", "linears": {"q": {"in": 8000, "out": 8000, "bias": None,
                                      "weight": {"tensor": "float32", "shape": [1], "device": "cpu", "data": ""}}},
     "parameters": 0},
    {"module": "M", "linears": {}, "parameters": 10**9},
])
def test_malformed_results_are_rejected(bad):
    got = verdicts("04_attention", {}, channel=lambda inner: Spy(inner, lambda q, r: {**r, "result": bad}))
    assert got["test_softmax_values"].earned == 0 and got["test_softmax_values"].flag


def test_nothing_is_ever_unpickled():
    """A pickle payload in place of tensor bytes is read as bytes (and rejected), never loaded."""
    payload = pickle.dumps(torch.ones(4))
    forged = {"tensor": "float32", "shape": [len(payload) // 4], "device": "cpu",
              "data": base64.b64encode(payload[: len(payload) // 4 * 4]).decode()}
    with mock.patch.object(pickle, "loads", side_effect=AssertionError("unpickled")), \
            mock.patch.object(pickle, "Unpickler", side_effect=AssertionError("unpickled")), \
            mock.patch.object(torch, "load", side_effect=AssertionError("torch.load")):
        got = verdicts("04_attention", {}, channel=lambda inner: Spy(inner, lambda q, r: {**r, "result": forged}))
    assert got["test_softmax_values"].earned == 0


def test_replies_that_are_not_objects_or_say_error_are_flagged():
    for change in (lambda q, r: "all passed", lambda q, r: {"error": "cannot"}, lambda q, r: {"events": []}):
        got = verdicts("04_attention", {}, channel=lambda inner: Spy(inner, change))
        assert got["test_softmax_values"].earned == 0 and got["test_softmax_values"].flag


def test_a_function_that_changes_its_input_in_place_earns_nothing():
    """Overwriting the input (so that the reference, computed after the call, agrees) is caught, on both sides."""

    def softmax(x, dim=-1):
        x.zero_()
        return torch.full_like(x, 1 / x.size(dim))

    remote_verdicts = verdicts("04_attention", {"softmax": softmax})
    with contextlib.redirect_stdout(io.StringIO()):
        direct = {o.grade_id: o for o in grade("04_attention", {**attention.CORRECT, "softmax": softmax})}
    for grade_id in ("test_softmax_values", "test_softmax_stability", "test_softmax_dims_and_dtypes"):
        assert remote_verdicts[grade_id].earned == 0 and "changed an input in place" in remote_verdicts[grade_id].message
        assert direct[grade_id].earned == 0 and remote_verdicts[grade_id].message == str(direct[grade_id].error)


def test_a_missing_function_is_named():
    plan = J.plan(notebook("06_split_heads"))
    ns = namespace("06_split_heads", {"split_heads": split_heads.split_heads})  # the other one never defined
    got = {c.grade_id: J.judge_cell(plan, c, remote.Loopback(ns)) for c in plan.cells}
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
        back = codec.decode(json.loads(json.dumps(codec.encode(value))))
        if isinstance(value, torch.Tensor):
            assert back.dtype == value.dtype and back.shape == value.shape and back.device == value.device
            if value.device.type != "meta":
                assert torch.equal(back, value)
        else:
            assert back == value
