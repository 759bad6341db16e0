"""`python -m grader.kit OUT`: the learner environment, the course without the reference's answers.

OUT holds the learner notebooks (`exercises/`, and `exercises-zh/` in Chinese), a `mhsa_ref` package, a `pyproject.toml` that
installs it with JupyterLab and nbgrader, and a README that says how. In that package:

* every function a learner writes, and every other form of it (the fused and loop layers, the
  reference's private helpers), is withheld: its body answers only the calls stored when the kit
  was built, and raises `mhsa_ref.withheld.Withheld` for anything else;
* the visible checks work unchanged, from those stored answers: the kit is built by running every
  visible check of every exercise against the solutions, with every suspect formed, so the
  reference's answer to each of their calls is stored, likely-cause messages included;
* the hidden checks are withheld (they run when a notebook is graded). The grader is not there to
  leave out: it is a package of its own (`grader`), and the kit is built from `mhsa_ref` alone;
* the trained word2vec space and biLM ship as they do in the course (`mhsa_ref/data/*.pt`), so
  `word2vec.pretrained()` and `elmo.pretrained()` load them without the training code's withheld pieces.

Which names are withheld is not a list to keep up to date: it is every function and class of the
reference modules except the course machinery named in `KEEP`, and a test checks that no learner
function is among those.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import importlib
import inspect
import os
import re
import shutil
import sys
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import nbformat

import mhsa_ref
from grader import assignment
from grader.judge import _CHECKS_IMPORT, check_calls  # the judge's reading of a test cell
from mhsa_ref import withheld
from mhsa_ref.checks import _core

PACKAGE = Path(mhsa_ref.__file__).resolve().parent  # the course's reference: the kit's only source
SANDBOXED = Path(__file__).resolve().parent / "sandboxed"  # the grader's part that runs inside the sandbox

# The reference modules, each with the course machinery the learner environment keeps (everything
# else in them is withheld). None of these is a function a learner writes.
KEEP: dict[str, set[str]] = {
    "one_hot": {"encode"},
    "word2vec": {"SkipGram", "Word2Vec", "nearest_neighbours", "subsample_keep_probability", "train_word2vec",
                 "save", "load", "training_sentences", "_pretrained", "pretrained", "main"},
    "elmo": {"BiLM", "ELMo", "_batches", "train_elmo", "learn_scalar_mix", "_fit_scalar_mix", "sense_mix", "sense_probe",
             "save", "load",
             "training_sentences", "_pretrained", "pretrained", "main"},
    "attention": set(),
    "self_attention": set(),
    "split_heads": set(),
    "concat_and_output": {"_check_layer_weights"},
    "cost_and_gpu": {"_positive_ints", "achieved_tflops"},
    # chapter 09's encoders, their training and their measures: exercise 09's cells train them with the learner's
    # own layer and positions and read the stored ones (everything but the four functions the learner writes)
    "trained_heads": {"Batch", "TinyEncoder", "Trained", "TwoPlaces", "TwoPlacesRun", "Vocabulary", "_check_part",
                      "_choice", "_encoder_run", "_in_workers", "_join", "_ladder_run", "_select", "_two_places_run",
                      "_validation_steps", "_verb_classes", "_verb_scores", "ablation", "bank_occurrences",
                      "bank_points", "bank_separation", "corpus_rows", "evaluate", "first_person_rule", "form_of",
                      "head_roles", "load", "load_two_places", "main", "make_batch", "pruning", "rung_representations",
                      "save_weights", "spread", "steps_to", "stored", "stored_two_places", "summary", "sweep",
                      "task_rows", "train", "train_two_places", "two_places_data", "two_places_error",
                      "two_places_summary", "two_places_sweep", "two_places_target", "verb_form", "verb_scores",
                      "vocabulary"},
}
_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)


@dataclass(frozen=True)
class Exercise:
    name: str  # e.g. "04_attention"
    checks: str  # e.g. "attention" (mhsa_ref.checks.attention)
    learner_names: tuple[str, ...]  # what its solution cells define
    visible: tuple[tuple[str, str], ...]  # (check, symbol) of the visible test cells, in order
    hidden: tuple[str, ...]  # the checks that run only when graded
    setup_and_solutions: tuple[str, ...]  # the code a correct learner's kernel runs before the checks


def exercises(root: Path) -> list[Exercise]:
    """Every exercise of the course, read from the instructor's notebooks (`assignment.instructor_notebook`)."""
    found = []
    names = sorted(p.name for p in (root / assignment.SOURCE).glob("[0-9][0-9]_*") if p.is_dir())
    for path in [assignment.instructor_notebook(root, name) for name in names]:
        nb = nbformat.read(path, as_version=4)
        learner, visible, hidden, code, module = [], [], [], [], None
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            module = module or next(iter(_CHECKS_IMPORT.findall(cell.source)), None)
            if meta.get("solution"):
                learner += re.findall(r"^(?:def|class) (\w+)", cell.source, re.M)
                code.append(cell.source)
            elif meta.get("grade"):
                hidden += [name for block in _HIDDEN.findall(cell.source) for name, _ in check_calls(block)]
                visible += check_calls(_HIDDEN.sub("", cell.source))
            elif meta.get("locked"):
                code.append(cell.source)
        if module is None:
            raise ValueError(f"{path}: no `from mhsa_ref.checks import NAME as check` cell")
        found.append(Exercise(path.parent.name, module, tuple(learner), tuple(visible), tuple(hidden), tuple(code)))
    return found


def withheld_names() -> dict[str, list[str]]:
    """module -> the top-level functions and classes the learner environment withholds."""
    out = {}
    for module, keep in KEEP.items():
        tree = ast.parse((PACKAGE / f"{module}.py").read_text())
        out[module] = [n.name for n in tree.body
                       if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name not in keep]
    return out


# --- storing the reference's answers -------------------------------------------------------------


@contextlib.contextmanager
def _recording(answers: withheld.Answers, names: dict[str, list[str]]) -> Iterator[None]:
    """While inside, each outermost call of a withheld function stores its answer in `answers`."""
    depth = [0]
    patched: list[tuple[Any, str, Any]] = []

    def wrap(qualname: str, original: Callable) -> Callable:
        signature = inspect.signature(original)

        def recorded(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            arguments = withheld.canonical(signature, args, kwargs)  # defaults filled in, iterators read once
            bound.arguments.update(arguments)  # the function gets the lists the iterators were read into
            depth[0] += 1
            try:
                result = original(*bound.args, **bound.kwargs)
            except Exception as e:
                if depth[0] == 1:
                    answers.add(qualname, arguments, error=e)  # a bad input's error is an answer too
                raise
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                answers.add(qualname, arguments, result)
            return result

        return recorded

    for module, functions in names.items():
        mod = importlib.import_module(f"mhsa_ref.{module}")
        for name in functions:
            original = getattr(mod, name)
            if inspect.isclass(original):
                continue  # a withheld class only refuses; no visible check builds one
            replacement = wrap(f"{module}.{name}", original)
            for loaded in [m for n, m in sys.modules.items() if n == "mhsa_ref" or n.startswith("mhsa_ref.")]:
                for attr, value in list(vars(loaded).items()):
                    if value is original:
                        patched.append((loaded, attr, value))
                        setattr(loaded, attr, replacement)
    try:
        yield
    finally:
        for loaded, attr, value in reversed(patched):
            setattr(loaded, attr, value)


def record_answers(course: list[Exercise]) -> withheld.Answers:
    """Run every visible check against the solutions and store each reference answer they need."""
    for ex in course:
        importlib.import_module(f"mhsa_ref.checks.{ex.checks}")
    answers = withheld.Answers()
    previous, _core.FORM_EVERY_SUSPECT = _core.FORM_EVERY_SUSPECT, True
    try:
        with _recording(answers, withheld_names()):
            for ex in course:
                namespace: dict = {}
                for source in ex.setup_and_solutions:
                    exec(compile(source, f"<{ex.name}>", "exec"), namespace)  # noqa: S102 - the instructor's own solutions
                checks = importlib.import_module(f"mhsa_ref.checks.{ex.checks}")
                with _core.invoker(_core._Direct(), sink=[]):
                    for check, symbol in ex.visible:
                        try:
                            getattr(checks, check)(namespace[symbol])
                        except Exception as e:
                            raise RuntimeError(f"{ex.name}: the solution fails the visible check {check}: {e}") from e
            # exercise 02's try-it cell trains word2vec with the learner's functions; its vocabulary
            # is chapter 01's (the package's `one_hot` attribute is the function, hence importlib)
            from mhsa_ref import corpus

            vocabulary = importlib.import_module("mhsa_ref.one_hot").build_vocab
            vocabulary(t for s in corpus.sentences() for t in s)
    finally:
        _core.FORM_EVERY_SUSPECT = previous
    return answers


# --- rewriting the package ---------------------------------------------------------------------


def _stub(node: ast.FunctionDef | ast.ClassDef, qualname: str, body: str) -> str:
    doc = (ast.get_docstring(node) or "").split("\n\n")[0].strip().replace('"""', "'''")
    note = "Withheld in the learner environment (mhsa_ref.withheld)."
    docstring = f'    """{doc}\n\n    {note}\n    """' if doc else f'    """{note}"""'
    if isinstance(node, ast.ClassDef):
        return (f"class {node.name}:\n{docstring}\n\n    def __init__(self, *args, **kwargs):\n"
                f"        _withheld.refuse({qualname!r})\n")
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"def {node.name}({ast.unparse(node.args)}){returns}:\n{docstring}\n    {body}\n"


def rewrite(source: str, stubs: dict[str, Callable[[ast.FunctionDef | ast.ClassDef], str]]) -> str:
    """`source` with each named top-level function or class replaced by its stub, and `_withheld` imported."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    targets = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in stubs]
    missing = set(stubs) - {n.name for n in targets}
    if missing:
        raise ValueError(f"nothing named {sorted(missing)} to withhold")
    first = next(n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
                 and not (isinstance(n, ast.ImportFrom) and n.module == "__future__"))
    if any(n.lineno <= first.lineno for n in targets):
        raise ValueError("a withheld definition comes before the module's imports")
    for node in sorted(targets, key=lambda n: n.lineno, reverse=True):
        start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        lines[start:node.end_lineno] = [stubs[node.name](node)]
    lines.insert(first.lineno - 1, "from mhsa_ref import withheld as _withheld\n")
    return "".join(lines)


def _reference_stubs(module: str, names: list[str]) -> dict[str, Callable]:
    def make(name: str) -> Callable:
        qualname = f"{module}.{name}"
        return lambda node: _stub(node, qualname, f"return _withheld.answer({qualname!r}, {name}, locals())")

    return {name: make(name) for name in names}


def _hidden_check_stubs(module: str, names: set[str]) -> dict[str, Callable]:
    def make(name: str) -> Callable:
        message = (f"check.{name} is a hidden check: it runs when your notebook is graded, with the course's "
                   f"reference, and is not part of the learner environment.")
        return lambda node: _stub(node, f"checks.{module}.{name}", f"_withheld.refuse('', {message!r})")

    return {name: make(name) for name in sorted(names)}


def _pyproject(root: Path) -> str:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    lab = [d for d in project["optional-dependencies"]["grading"] if d.split("=")[0].split("<")[0].split(">")[0]
           in ("nbgrader", "jupyterlab", "ipywidgets")]
    deps = sorted(set(project["dependencies"]) | set(lab))
    return (
        "# The learner environment of the course (built by `python -m grader.kit`; do not edit by hand).\n"
        "[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n\n"
        "[project]\nname = \"mhsa-course-learner\"\n"
        f"version = \"{project['version']}\"\n"
        "description = \"Exercises of the course on multi-head self-attention, without the reference's answers\"\n"
        f"requires-python = \"{project['requires-python']}\"\n"
        "dependencies = [" + ", ".join(f'"{d}"' for d in deps) + "]\n\n"
        "[tool.setuptools.packages.find]\ninclude = [\"mhsa_ref*\"]\n\n"
        "[tool.setuptools.package-data]\nmhsa_ref = [\"data/*\"]\n"
    )


README = """\
# Multi-head self-attention: the exercises

The exercise notebooks of the course, with what they need to run and check your work. The
course's reference implementations are not here: the checks in the notebooks compare your
functions with answers stored for their own inputs, and the hidden checks run when your work is
graded.

## Set up (once)

With Python 3.10 or newer:

    python3 -m venv .venv
    .venv/bin/pip install -c constraints.txt .

## For learners

    .venv/bin/jupyter lab exercises/

(中文说明的同一套练习在 `exercises-zh/` 中：`.venv/bin/jupyter lab exercises-zh/`。代码、评分单元格和分数与英文版
完全相同；检查信息暂时仍为英文。The same exercises with their instructions in Chinese are in `exercises-zh/`.)

Open an exercise, write each function where it says `raise NotImplementedError()`, and run the
check under it: a line starting with ✔ means it passed; otherwise the message says what was
expected, what came, and the likely cause. *Validate* (in the notebook's toolbar) runs the whole
notebook from the top. Hand in the notebook as your course asks.

Between the functions come questions, each answered as the value of an `answer_…` variable. Answer a
*Predict, then run* question before you run the experiment under it; answer a *Run, then answer*
question from what its cell prints. The check under an answer only says whether it has the form
asked for; whether it is right is decided, and explained, when your notebook is graded.

Calling `mhsa_ref.softmax` or any other piece of the reference raises `Withheld`: write your own.
"""


def build(root: Path, out: Path) -> Path:
    """Write the learner environment into `out` (which must not exist yet)."""
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it first (make learner-kit does)")
    released = root / "exercises"
    if not any(released.glob("*/*.ipynb")):
        raise FileNotFoundError(f"no learner notebooks in {released}; run `make exercises` first")
    course = exercises(root)
    answers = record_answers(course)

    package = out / "mhsa_ref"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module, names in withheld_names().items():
        path = package / f"{module}.py"
        path.write_text(rewrite(path.read_text(), _reference_stubs(module, names)))
    hidden: dict[str, set[str]] = {}
    for ex in course:
        hidden.setdefault(ex.checks, set()).update(ex.hidden)
    for module, names in hidden.items():
        path = package / "checks" / f"{module}.py"
        path.write_text(rewrite(path.read_text(), _hidden_check_stubs(module, names)))
    answers.save(str(package / "data" / "withheld.json"))

    shutil.copytree(released, out / "exercises", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if (root / "exercises-zh").is_dir():  # the same release, its instructions in Chinese (README: two languages)
        shutil.copytree(root / "exercises-zh", out / "exercises-zh", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(root / "constraints.txt", out / "constraints.txt")
    (out / "pyproject.toml").write_text(_pyproject(root))
    (out / "README.md").write_text(README)
    return out


# --- the grading sandbox's copy -----------------------------------------------------------------------

_CHECKS_STUB = '''"""The checks run outside the grading sandbox, with the reference (grader.judge); not here."""


def __getattr__(name):
    from mhsa_ref.withheld import Withheld

    raise Withheld(f"check.{name} runs outside the grading sandbox, when the judge grades this notebook")
'''
_SANDBOX_LOCK = threading.Lock()


def sources_digest(*folders: Path) -> str:
    """A fingerprint of the folders' sources and data (default: mhsa_ref and the grader's sandboxed part):
    which sandbox copy goes with this course."""
    h = hashlib.sha256()
    for folder in folders or (PACKAGE, SANDBOXED):
        h.update(folder.name.encode() + b"\0")
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def sandbox_cache() -> Path:
    """Where sandbox copies are kept: $MHSA_SANDBOX_CACHE, or the user's cache folder."""
    root = os.environ.get("MHSA_SANDBOX_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mhsa-grading")
    return Path(root)


def sandbox_package() -> Path:
    """The packages the grading sandbox holds, built once per version of the course (about a second).

    Its `mhsa_ref` is the learner environment's package without its stored answers: every reference
    function withheld (it raises `Withheld` for any call), every check replaced by a module that
    refuses. Of the grader it holds `grader.sandboxed` only (the worker, its side of the wall, the
    bans), copied whole: the judge, the pool and the rest of `grader` are never copied. The trained word2vec space and biLM ship in
    its data as in the course (`pretrained()`, which exercises 02, 03 and 09 use). Nothing in it can answer a check:
    the checks run outside, with the reference, and call the learner's code across the wall.
    Returns the folder that holds both (what the sandbox puts on `sys.path`).
    """
    with _SANDBOX_LOCK:
        home = sandbox_cache() / f"sandbox-{sources_digest()}"
        if (home / "mhsa_ref" / "__init__.py").exists():
            return home
        home.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=home.parent))
        try:
            package = building / "mhsa_ref"
            shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            for path in (package / "checks").glob("*.py"):
                if path.name not in ("__init__.py", "_core.py"):
                    path.write_text(_CHECKS_STUB)
            for module, names in withheld_names().items():
                path = package / f"{module}.py"
                path.write_text(rewrite(path.read_text(), _reference_stubs(module, names)))
            withheld.Answers().save(str(package / "data" / "withheld.json"))  # no stored answer at all
            (building / "grader").mkdir()
            (building / "grader" / "__init__.py").write_text('"""The grader\'s part inside the sandbox: `sandboxed`."""\n')
            shutil.copytree(SANDBOXED, building / "grader" / "sandboxed",
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            for path in [building, *building.rglob("*")]:  # readable by the sandbox's unprivileged user
                path.chmod(0o755 if path.is_dir() else 0o644)
            try:
                building.rename(home)
            except OSError:  # another process built it first: theirs is the same
                shutil.rmtree(building, ignore_errors=True)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.kit", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder to create")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course directory (default: here)")
    args = parser.parse_args(argv)
    out = build(args.root.resolve(), args.out.resolve())
    size = sum(p.stat().st_size for p in (out / "mhsa_ref" / "data").glob("withheld.json"))
    print(f"learner environment in {out} (stored answers: {size / 1e6:.1f} MB); its README says how to install it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
