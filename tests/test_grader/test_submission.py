"""What the grader reads of a submission: its cells, never its stored outputs (grader/submission.py)."""

from __future__ import annotations

import io
import json
import tracemalloc

import nbformat
import pytest

import demo_builder
from grader import submission

A = "04_attention"


def without_outputs(nb: dict) -> dict:
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if "outputs" in cell:
            cell["outputs"] = []
    return nb


def test_a_saved_notebook_is_read_whole_but_for_its_outputs():
    nb = nbformat.read(demo_builder.path_of("ada", A), as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="tensor([1., 2.])\n" * 3),
                    nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=3)]
    text = nbformat.writes(nb)
    read = json.loads(submission.without_outputs(io.BytesIO(text.encode())))
    assert read == without_outputs(json.loads(text))
    assert read["cells"][1]["outputs"] == [] and read["metadata"] == json.loads(text)["metadata"]


def test_the_old_format_loses_its_outputs_too():
    v3 = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[
        nbformat.v3.new_code_cell("z = 3", outputs=[nbformat.v3.new_output("stream", output_text="big")])])])
    read = json.loads(submission.without_outputs(io.BytesIO(nbformat.writes(v3, version=3).encode())))
    cell = read["worksheets"][0]["cells"][0]
    assert cell["outputs"] == [] and "".join(cell["input"]) == "z = 3"


def test_what_the_learner_wrote_is_kept_as_it_was_read_before():
    # a stray byte that is not UTF-8 becomes U+FFFD, as read_text(errors="replace") made it; NaN, which Python's
    # json (and so nbformat) accepts and the streaming parser does not, is read by the fallback
    stray = b'{"cells": [{"cell_type": "code", "source": "x = \'\xff\'", "outputs": [1]}], "nbformat": 4}'
    assert json.loads(submission.without_outputs(io.BytesIO(stray)))["cells"][0]["source"] == "x = '\ufffd'"
    nan = b'{"cells": [{"cell_type": "code", "source": "x", "outputs": [{"a": 1}]}], "metadata": {"v": NaN}}'
    read = json.loads(submission.without_outputs(io.BytesIO(nan)))
    assert read["cells"][0]["outputs"] == [] and read["metadata"]["v"] != read["metadata"]["v"]


@pytest.mark.parametrize("text", [b"", b'{"cells": [ this is not json', b"[1, 2", b"nope"])
def test_what_is_not_json_is_refused_with_the_reason(text):
    with pytest.raises(submission.Unreadable, match="not valid JSON"):
        submission.without_outputs(io.BytesIO(text))


def test_outputs_never_count_towards_the_size_limit_but_cells_do(monkeypatch):
    monkeypatch.setattr(submission, "MAX_CELLS_BYTES", 1000)
    outputs = [{"output_type": "stream", "name": "stdout", "text": ["x" * 100 + "\n"] * 1000}]
    small = {"cells": [{"cell_type": "code", "source": "y = 1", "outputs": outputs}], "nbformat": 4}
    assert json.loads(submission.without_outputs(io.BytesIO(json.dumps(small).encode())))["cells"][0]["outputs"] == []
    large = {"cells": [{"cell_type": "code", "source": "y = 1\n" * 1000, "outputs": []}], "nbformat": 4}
    with pytest.raises(submission.Unreadable, match="even without their outputs"):
        submission.without_outputs(io.BytesIO(json.dumps(large).encode()))


def test_a_file_too_large_to_stream_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [], "nbformat": 4}))
    monkeypatch.setattr(submission, "MAX_FILE_BYTES", 10)
    monkeypatch.setattr(submission, "without_outputs", lambda stream: pytest.fail("the file was read"))
    text, reason = submission.read_submission(path)
    assert text == "" and reason.startswith("the notebook could not be read: the file has") and "refused unread" in reason
    assert submission.read_submission(tmp_path / "gone.ipynb")[1].startswith("the notebook could not be read")


def test_300_megabytes_of_outputs_are_dropped_as_they_stream_by(tmp_path):
    path = tmp_path / f"{A}.ipynb"
    nb = nbformat.read(demo_builder.path_of("ada", A), as_version=4)
    assert demo_builder.write_with_outputs(nb, path, 300) >= 300 * 2**20
    tracemalloc.start()
    try:
        text, reason = submission.read_submission(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason == "" and len(text) < 100_000  # what the worker, nbgrader and the similarity report get
    assert json.loads(text) == without_outputs(json.loads(nbformat.writes(nb)))
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB held while reading"  # the outputs streamed by, never held
