"""Copying flagged for the instructor: each learner function against the reference and the other submissions.

`make grade` ends with `similarity.csv` and, in its summary, the pairs above the threshold. The
comparison is copydetect's (https://github.com/blingenf/copydetect, the winnowing of MOSS:
Schleimer, Wilkerson and Aiken, SIGMOD 2003): code is tokenised by Pygments, names and strings
are replaced by placeholders (so renaming variables or rewording comments changes nothing),
k-grams of the tokens are hashed and winnowed, and a function's similarity to another is the
share of its tokens covered by fingerprints the two have in common. The released exercise's
skeleton of each function (signature, docstring, `raise NotImplementedError()`) is boilerplate,
never counted.

What is compared: every function a learner writes (each symbol the instructor's test cells pass
to a check that the reference module defines), as its last definition in the submission, with
  * the reference (`mhsa_ref.<module>.<function>`), and
  * the same function of every other submission that shares at least one fingerprint with it
    (an index of fingerprints finds those pairs, so a class of thousands is not compared pair by
    pair).
Functions shorter than MIN_TOKENS filtered characters are left out: every correct three-line
`softmax` looks alike, so their likeness says nothing. A flag is for a person to look at; it
changes no grade.
"""

from __future__ import annotations

import ast
import csv
import importlib
import inspect
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.submission import read_submission

THRESHOLD = 0.8  # share of a function's tokens found in the other function: flagged at or above it
NOISE = 20  # k: the length of the k-grams (characters of filtered code), copydetect's noise threshold
WINDOW = 4  # winnowing window: any match of NOISE + WINDOW - 1 characters or more is found
MIN_TOKENS = 60  # filtered characters (about two lines of code); shorter functions are not compared
REPORT_FLOOR = 0.5  # pairs below this are not written to similarity.csv
REFERENCE = "(reference)"


@dataclass(frozen=True)
class Pair:
    assignment: str
    function: str
    learner: str
    other: str  # another learner, or "(reference)"
    similarity: float  # share of the learner's function found in the other's
    other_similarity: float  # share of the other's function found in the learner's

    @property
    def flagged(self) -> bool:
        return max(self.similarity, self.other_similarity) >= THRESHOLD


def definitions(notebook_text: str, names: set[str]) -> dict[str, str]:
    """The source of the last top-level definition of each of `names` in a notebook's code cells."""
    try:
        cells = json.loads(notebook_text).get("cells", [])
    except (ValueError, AttributeError):
        return {}
    found: dict[str, str] = {}
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(map(str, source)) if isinstance(source, list) else str(source)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
                found[node.name] = ast.get_source_segment(source, node) or ""
    return found


def _fingerprint(code: str, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint("function.py", NOISE, WINDOW, boilerplate=boilerplate, fp=io.StringIO(code))


def learner_functions(module: str, symbols: set[str]) -> dict[str, str]:
    """function -> reference source, for the symbols that the reference module `mhsa_ref.<module>` defines."""
    reference = importlib.import_module(f"mhsa_ref.{module}")
    out = {}
    for name in sorted(symbols):
        obj = getattr(reference, name, None)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            out[name] = inspect.getsource(obj)
    return out


def compare(assignment: str, reference: dict[str, str], skeleton: dict[str, str],
            submissions: dict[str, str]) -> list[Pair]:
    """Every pair at or above REPORT_FLOOR for one assignment. submissions: learner -> notebook text."""
    from copydetect import compare_files

    pairs: list[Pair] = []
    for function, reference_source in reference.items():
        boilerplate = np.array(sorted(_fingerprint(skeleton[function]).hashes)) if function in skeleton else None
        prints = {}
        for learner, text in submissions.items():
            code = definitions(text, {function}).get(function)
            if not code:
                continue
            fp = _fingerprint(code, boilerplate)
            if len(fp.filtered_code) >= MIN_TOKENS and len(fp.hashes):
                prints[learner] = fp
        if not prints:
            continue
        ref = _fingerprint(reference_source, boilerplate)
        index: dict[int, set[str]] = defaultdict(set)
        for learner, fp in prints.items():
            for h in fp.hashes:
                index[h].add(learner)
        candidates: set[tuple[str, str]] = set()
        for learners in index.values():
            ordered = sorted(learners)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1:]:
                    candidates.add((a, b))
        for learner, fp in sorted(prints.items()):
            _, (mine, theirs), _ = compare_files(fp, ref)
            if max(mine, theirs) >= REPORT_FLOOR:
                pairs.append(Pair(assignment, function, learner, REFERENCE, float(mine), float(theirs)))
        for a, b in sorted(candidates):
            _, (sa, sb), _ = compare_files(prints[a], prints[b])
            if max(sa, sb) >= REPORT_FLOOR:
                pairs.append(Pair(assignment, function, a, b, float(sa), float(sb)))
    return pairs


def write(path: Path, pairs: list[Pair]) -> Path:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["assignment", "function", "learner", "other", "similarity", "other_similarity", "flagged"])
        for p in sorted(pairs, key=lambda p: (p.assignment, p.function, -max(p.similarity, p.other_similarity))):
            out.writerow([p.assignment, p.function, p.learner, p.other, f"{p.similarity:.2f}",
                          f"{p.other_similarity:.2f}", "yes" if p.flagged else ""])
    return path


def read(path: Path) -> list[Pair]:
    """The pairs of a similarity.csv that `write` wrote."""
    with path.open(newline="") as f:
        return [Pair(r["assignment"], r["function"], r["learner"], r["other"], float(r["similarity"]),
                     float(r["other_similarity"])) for r in csv.DictReader(f)]


def summary(pairs: list[Pair], limit: int = 10) -> str:
    """The `limit` flagged pairs with the highest scores, grouped by function; the rest as one line that counts them.

    A class of mostly identical notebooks flags hundreds of pairs; an instructor reads the strongest
    few, and similarity.csv holds every one.
    """
    flagged = sorted((p for p in pairs if p.flagged),
                     key=lambda p: (-max(p.similarity, p.other_similarity), p.assignment, p.function, p.learner, p.other))
    if not flagged:
        return f"similarity: no pair at or above {THRESHOLD:.0%} (similarity.csv)"
    shown = flagged[:limit]
    lines = [f"similarity: {len(flagged)} pair(s) at or above {THRESHOLD:.0%}, for a person to look at (no grade "
             f"changed){f'; the {len(shown)} highest' if len(flagged) > limit else ''}:"]
    groups: dict[tuple[str, str], list[Pair]] = {}
    for p in shown:  # each function once, in the order of its highest pair
        groups.setdefault((p.assignment, p.function), []).append(p)
    for (assignment, function), members in groups.items():
        lines.append(f"  {assignment} {function}:")
        lines += [f"    {p.learner} and {p.other}: {p.similarity:.0%} / {p.other_similarity:.0%}" for p in members]
    if len(flagged) > limit:
        rest = flagged[limit:]
        functions = len({(p.assignment, p.function) for p in rest})
        lines.append(f"  … and {len(rest)} more pair(s) at or above {THRESHOLD:.0%}, in {functions} function(s): "
                     f"all in similarity.csv")
    else:
        lines.append("  (all in similarity.csv)")
    return "\n".join(lines)


def report(course: Path, jobs) -> list[Pair]:
    """Compare every graded submission's learner functions; write similarity.csv in `course`."""
    by_assignment: dict[str, list] = defaultdict(list)
    for job in jobs:
        by_assignment[job.assignment.name].append(job)
    pairs: list[Pair] = []
    for name, group in sorted(by_assignment.items()):
        plan = group[0].assignment.plan
        symbols = {symbol for cell in plan.cells for _, symbol in cell.checks}
        reference = learner_functions(plan.module.rsplit(".", 1)[1], symbols)
        released = course / "exercises" / name / f"{name}.ipynb"
        skeleton = definitions(released.read_text(errors="replace"), set(reference)) if released.exists() else {}
        submissions = {}
        for job in group:
            # without its stored outputs, as it was graded (read again only if it was not graded in this run)
            text, unread = (job.text, "") if job.text is not None else read_submission(job.path)
            if not unread:
                submissions[job.student] = text
        pairs += compare(name, reference, skeleton, submissions)
    write(course / "similarity.csv", pairs)
    return pairs
