"""What the grader reads of a submitted notebook: its cells, never its stored outputs.

The grader runs every notebook again, so the outputs a learner saved with it are worth nothing to
it, and they can be most of the file: a learner who printed a large tensor and saved hands in
hundreds of megabytes. They are dropped while the file is read, by a streaming parser (ijson, on
the C library yajl), so neither their text nor a parsed copy of them is ever held in memory, and
nothing downstream (nbgrader's sanitizing, the worker, the similarity report) parses them. Both
paths read submissions here: `make grade` (`pool.read_submission`) and plain `nbgrader autograde`
(`nbgrader_plugin.SubmissionExporter`).
"""

from __future__ import annotations

import codecs
import io
import json
from pathlib import Path

MAX_FILE_BYTES = 2**30  # 1 GiB: a larger file is refused unread (streaming it would take minutes)
MAX_CELLS_BYTES = 16 * 2**20  # what is left without outputs: more than 16 MiB of cells is no learner's code
# where a notebook keeps its outputs: a cell's "outputs" in nbformat 4, and in nbformat 3's worksheets
_OUTPUTS = ("cells.item.outputs", "worksheets.item.cells.item.outputs")


class Unreadable(ValueError):
    """The file cannot be graded as a notebook; the message says why."""


class _Repaired:
    """A binary stream's bytes as UTF-8, each invalid byte replaced by U+FFFD, as `read_text(errors="replace")` does.

    A learner's stray byte inside a string does not make the notebook unreadable (nor did it before).
    """

    def __init__(self, stream) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        while True:
            chunk = self.stream.read(size if size > 0 else 1 << 16)
            text = self.decoder.decode(chunk, final=not chunk)
            if text or not chunk:
                return text.encode()


def _emptied(notebook):
    """A parsed notebook (json.loads) with its outputs emptied, as `without_outputs` streams it."""
    if isinstance(notebook, dict):
        for sheet in [notebook] + [w for w in notebook.get("worksheets", []) if isinstance(w, dict)]:
            for cell in sheet.get("cells", []) if isinstance(sheet.get("cells"), list) else []:
                if isinstance(cell, dict) and "outputs" in cell:
                    cell["outputs"] = []
    return notebook


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def without_outputs(stream) -> str:
    """The JSON text of a notebook read from a binary `stream`, every cell's outputs emptied.

    Raises Unreadable when the stream is not JSON, or is still too large without its outputs.
    """
    import ijson
    from ijson.common import ObjectBuilder

    builder = ObjectBuilder()
    kept = 0
    start = stream.tell() if stream.seekable() else None
    try:
        for prefix, event, value in ijson.parse(_Repaired(stream), use_float=True):
            if prefix.startswith(_OUTPUTS):
                if prefix in _OUTPUTS and event in ("start_array", "end_array"):
                    builder.event(event, value)  # the list itself stays, empty
                continue
            if event in ("string", "map_key"):
                kept += len(value)
                if kept > MAX_CELLS_BYTES:
                    raise Unreadable(f"its cells hold more than {MAX_CELLS_BYTES >> 20} MiB of code and text even "
                                     f"without their outputs; a notebook of the course holds well under 1 MiB")
            builder.event(event, value)
    except ijson.JSONError as e:
        # what yajl refuses and Python's json (which nbformat reads with) accepts, such as NaN: read as nbformat would,
        # where the file is small enough to hold
        if start is None or stream.seek(0, io.SEEK_END) - start > MAX_CELLS_BYTES:
            raise Unreadable(f"it is not valid JSON ({_first_line(e)})") from e
        stream.seek(start)
        try:
            return json.dumps(_emptied(json.loads(stream.read().decode("utf-8", errors="replace"))))
        except (ValueError, RecursionError):
            raise Unreadable(f"it is not valid JSON ({_first_line(e)})") from e
    if not hasattr(builder, "value"):
        raise Unreadable("it is empty")
    return json.dumps(builder.value)


def read(path: Path) -> str:
    """A submission's text without its outputs. Raises OSError when the file cannot be read, Unreadable as above."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise Unreadable(f"the file has {size / 2**30:.1f} GiB; a notebook over {MAX_FILE_BYTES >> 30} GiB is "
                         f"refused unread (clear its outputs and submit it again)")
    with path.open("rb") as stream:
        return without_outputs(stream)


def read_submission(path: Path) -> tuple[str, str]:
    """A submission's text without its stored outputs, and why it could not be read ("" when it could)."""
    try:
        return read(path), ""
    except (OSError, Unreadable) as e:
        return "", f"the notebook could not be read: {e}"
