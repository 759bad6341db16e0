"""Forbidden APIs are switched off in the grading sandbox's process, where the learner's code cannot reach them.

Each case runs in a fresh interpreter: a ban is for good, as it is in a notebook's process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT

# A softmax that turns the grader's hooks off and hides its call to torch.softmax (tests/test_grader/test_grade.py's attack).
HOOKS_OFF = """
def softmax(x, dim=-1):
    import sys
    import torch
    from torch.utils._python_dispatch import _disable_current_modes
    sys.setprofile(None)
    with _disable_current_modes():
        return getattr(torch, "soft" + "max")(x, dim).nan_to_num(0.0)
"""

SCRIPT = """
import json, sys, torch
sys.path.insert(0, {root!r})
from grader import judge
from grader.sandboxed import bans, remote
from mhsa_ref import codec
from mhsa_ref.checks import attention
import nbformat
plan = judge.plan(nbformat.read({notebook!r}, as_version=4))
if {install}:
    bans.install(**plan.bans)
ns = {{}}
exec({learner!r}, ns)
server = remote.Server(ns)
x = torch.randn(3, 8, 4, 4)
reply = server.reply({{"op": "call", "target": {{"symbol": "softmax"}}, "args": codec.encode((x, -1), whole=True),
                      "kwargs": codec.encode({{}}), "name": "softmax",
                      "rules": remote.rules_payload(attention.SOFTMAX_RULES)}})
out = {{"reply": sorted(reply), "text": str(reply.get("violation") or reply.get("message") or "")}}
if "result" in reply:
    out["right"] = bool(torch.allclose(codec.decode(reply["result"]), torch.softmax(x, -1)))
{extra}
print(json.dumps(out))
"""


def run(install: bool, learner: str = HOOKS_OFF, extra: str = "") -> dict:
    notebook = str(ROOT / "solutions" / "04_attention" / "04_attention.ipynb")
    code = SCRIPT.format(root=str(ROOT), notebook=notebook, install=install, learner=learner, extra=extra)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_the_bans_a_function_can_hide_from_the_hooks():
    """The control: the in-process hooks alone are fooled (so the test below can fail)."""
    got = run(install=False)
    assert got["reply"] == ["result"] and got["right"] is True


def test_with_the_bans_the_hidden_call_raises_and_loses_the_points():
    got = run(install=True)
    assert "result" not in got["reply"]
    assert "torch's built-in softmax" in got["text"] and "not available" in got["text"]


def test_a_ban_cannot_be_taken_back_from_python():
    extra = """
import gc, torch.library
out["handles"] = sum(type(o).__name__ == "_DispatchModule" for o in gc.get_objects())
for library in list(torch.library._keep_alive):  # every library torch keeps, destroyed: ours is not among them
    library._destroy()
try:
    torch.softmax(torch.zeros(2), -1); out["after"] = "works"
except RuntimeError as e:
    out["after"] = str(e)[:300]
import torch.nn.functional as F
try:
    F.softmax(torch.zeros(2).to_sparse(), -1); out["sparse"] = "works"
except RuntimeError:
    out["sparse"] = "raised"
"""
    got = run(install=True, extra=extra)
    assert got["handles"] == 0  # no handle to call reset() on
    assert "not available" in got["after"] and got["sparse"] == "raised"


@pytest.mark.parametrize("call", ["torch.nn.functional.multi_head_attention_forward",
                                  "torch.nn.MultiheadAttention(4, 2)(torch.zeros(1, 2, 4), torch.zeros(1, 2, 4), "
                                  "torch.zeros(1, 2, 4))", "torch.nn.functional.scaled_dot_product_attention("
                                  "torch.zeros(1, 2, 4), torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))"])
def test_the_layer_exercises_switch_off_torchs_attention(call):
    code = f"""
import sys, torch
sys.path.insert(0, {str(ROOT)!r})
from grader import judge
from grader.sandboxed import bans
import nbformat
plan = judge.plan(nbformat.read({str(ROOT / 'solutions' / '07_concat_and_output' / '07_concat_and_output.ipynb')!r}, as_version=4))
bans.install(**plan.bans)
value = {call}
if callable(value):
    value(torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), 4, 2, None, None, None, None, False,
          0.0, torch.eye(4), None)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "not available in this exercise" in done.stderr, done.stderr[-1500:]


def test_no_program_can_be_started_afresh_after_the_bans():
    """A fresh interpreter would load PyTorch without the bans: once `no_exec` is set, none can start."""
    code = f"""
import os, subprocess, sys
sys.path.insert(0, {str(ROOT)!r})
from grader.sandboxed import bans
before = subprocess.run([sys.executable, "-c", "pass"]).returncode
assert bans.no_exec()
try:
    subprocess.run([sys.executable, "-c", "import torch"])
    print("started")
except PermissionError:
    print("refused")
pid = os.fork()  # a fork keeps the bans (the same memory) and the filter
if pid == 0:
    try:
        os.execv(sys.executable, [sys.executable, "-c", "pass"])
    except PermissionError:
        os._exit(7)
print("fork", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), "before", before)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.split() == ["refused", "fork", "7", "before", "0"], done.stdout
