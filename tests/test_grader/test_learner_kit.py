"""The learner environment (`make learner-kit`, `grader.kit`): the course without the reference's answers.

The kit is built once, installed with pip into a folder of its own, and every check here runs in
a separate Python whose `mhsa_ref` is that installed copy, so nothing of the full reference can
leak in through this process.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import textwrap
from pathlib import Path

import nbformat
import pytest
import torch

from grader import kit
from grader.judge import check_calls

from conftest import ROOT, VENV_BIN, learner_kit, tool_env

COURSE = kit.exercises(ROOT)


@pytest.fixture(scope="module")
def built():
    return learner_kit()  # built once per test run, shared with the hub's test (conftest.py)


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """The kit installed as its README says (pip, from its own pyproject), dependencies aside."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run([str(VENV_BIN / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
                             "--no-build-isolation", "--target", str(target), str(built)],
                            env=tool_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return target


def in_kit(site: Path, code: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `code` in a Python whose mhsa_ref is the installed kit (tests/ importable for the mutants)."""
    env = tool_env()
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT / "tests")])
    prelude = (f"import mhsa_ref, sys\nassert mhsa_ref.__file__.startswith({str(site)!r}), mhsa_ref.__file__\n"
               "assert 'grader.kit' not in sys.modules\n")
    return subprocess.run([str(VENV_BIN / "python"), "-c", prelude + textwrap.dedent(code)], cwd=site,
                          env=env, capture_output=True, text=True, timeout=timeout)


def _defs(path: Path) -> dict[str, ast.AST]:
    return {n.name: n for n in ast.parse(path.read_text()).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _is_stub(node: ast.AST) -> bool:
    """A withheld body: a docstring and one call of mhsa_ref.withheld, nothing that computes."""
    if isinstance(node, ast.ClassDef):
        inits = [n for n in node.body if isinstance(n, ast.FunctionDef)]
        return len(inits) == 1 and inits[0].name == "__init__" and _is_stub(inits[0])
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1:
        return False
    call = body[0].value if isinstance(body[0], (ast.Return, ast.Expr)) else None
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id == "_withheld")


# --- what the kit holds -------------------------------------------------------------------------


def test_every_learner_function_is_withheld_and_none_is_kept(built):
    """Each function a solution cell defines is, in the kit, a stub wherever the reference defines it."""
    learner = {name for ex in COURSE for name in ex.learner_names}
    kept = {name for names in kit.KEEP.values() for name in names}
    assert learner and not learner & kept, f"KEEP names learner functions: {sorted(learner & kept)}"
    found = set()
    for module in kit.KEEP:
        full, stripped = _defs(ROOT / "mhsa_ref" / f"{module}.py"), _defs(built / "mhsa_ref" / f"{module}.py")
        assert set(full) == set(stripped), module
        for name, node in stripped.items():
            assert _is_stub(node) == (name not in kit.KEEP[module]), f"{module}.{name}"
            found |= {name} & learner
    assert found == learner, f"learner functions not defined in the reference modules: {sorted(learner - found)}"


def test_no_withheld_body_survives_anywhere_in_the_kit(built):
    """No function of the kit has the body of a withheld reference function (a copy under another name)."""
    bodies = {}
    for module, names in kit.withheld_names().items():
        for name, node in _defs(ROOT / "mhsa_ref" / f"{module}.py").items():
            if name in names and not isinstance(node, ast.ClassDef):
                body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
                bodies[ast.dump(ast.Module(body=body, type_ignores=[]))] = f"{module}.{name}"
    assert bodies
    for path in (built / "mhsa_ref").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
                copy = bodies.get(ast.dump(ast.Module(body=body, type_ignores=[])))
                assert copy is None, f"{path.relative_to(built)}:{node.name} has the body of {copy}"


def test_hidden_checks_and_the_grader_are_left_out(built):
    for ex in COURSE:
        stripped = _defs(built / "mhsa_ref" / "checks" / f"{ex.checks}.py")
        assert ex.hidden
        for name in ex.hidden:
            assert _is_stub(stripped[name]), f"{ex.checks}.{name}"
        for check, _ in ex.visible:
            assert not _is_stub(stripped[check]), f"{ex.checks}.{check}"
    # built from mhsa_ref alone: the course's package file for file (plus the stored answers), no grader anywhere
    shipped_files = {p.relative_to(built / "mhsa_ref") for p in (built / "mhsa_ref").rglob("*") if p.is_file()}
    course_files = {p.relative_to(kit.PACKAGE) for p in kit.PACKAGE.rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts}
    assert shipped_files - course_files <= {Path("data/withheld.json")} and course_files <= shipped_files
    assert not list(built.rglob("grader")) and not list(built.rglob("grading"))
    assert not (built / "solutions").exists()
    shipped = {p.relative_to(built / "exercises") for p in (built / "exercises").rglob("*.ipynb")}
    assert shipped == {p.relative_to(ROOT / "exercises") for p in (ROOT / "exercises").rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts}
    for path in (built / "exercises").rglob("*.ipynb"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path


def test_stored_answers_hold_only_the_visible_checks_calls(built):
    """The store is small and holds no answer to a hidden check's input (those use seeds of their own)."""
    store = built / "mhsa_ref" / "data" / "withheld.json"
    assert store.stat().st_size < 2_000_000
    data = json.loads(store.read_text())
    assert "models" not in data  # the trained models ship as the course ships them, in data/*.pt
    assert {p.name for p in (built / "mhsa_ref" / "data").glob("*.pt")} >= {"word2vec.pt", "elmo.pt"}
    withheld = {f"{m}.{n}" for m, names in kit.withheld_names().items() for n in names}
    assert set(data["calls"]) <= withheld and len(data["calls"]) >= 15


# --- the kit at work, installed -----------------------------------------------------------------


def test_the_reference_is_withheld_with_a_clear_error(installed):
    result = in_kit(installed, """
        import torch
        from mhsa_ref.withheld import Withheld
        from mhsa_ref.checks import attention as check
        for call in (lambda: mhsa_ref.softmax(torch.randn(5)), lambda: mhsa_ref.MultiHeadSelfAttention(16, 8),
                     lambda: check.softmax_stability(None)):
            try:
                call()
            except Withheld as e:
                print("WITHHELD:", e)
            else:
                raise SystemExit("no error")
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("WITHHELD:")]
    assert len(lines) == 3
    assert "mhsa_ref.attention.softmax is withheld in this learner environment" in lines[0]
    assert "Use your own function" in lines[0]
    assert "concat_and_output.MultiHeadSelfAttention" in lines[1]
    assert "check.softmax_stability is a hidden check: it runs when your notebook is graded" in lines[2]


# Each visible test cell of every exercise, run against the correct answers and against every
# mutant of tests/mutants: what the learner sees (✔ lines, or the failure's type and message).
VISIBLE_RUN = """
    import contextlib, io, json, sys
    from notebook_cells import graded_cells, setup_source
    from mutants import by_assignment
    EXERCISES = by_assignment()

    def outcomes(assignment, functions):
        namespace = {}
        exec(compile(setup_source(assignment), assignment, "exec"), namespace)
        namespace.update(functions)
        seen = []
        for cell in graded_cells(assignment):
            if "BEGIN HIDDEN TESTS" in cell.source:
                continue
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(cell.source, cell.grade_id, "exec"), namespace)
            except BaseException as e:
                seen.append([cell.grade_id, type(e).__name__, str(e)])
            else:
                seen.append([cell.grade_id, "ok", out.getvalue()])
        return seen

    report = {}
    for assignment, module in sorted(EXERCISES.items()):
        report[assignment + " correct"] = outcomes(assignment, dict(module.CORRECT))
        for name, mutant in sorted(module.MUTANTS.items()):
            report[f"{assignment} {name}"] = outcomes(assignment, {**module.CORRECT, mutant.function: mutant.fn})
    json.dump(report, sys.stdout)
"""


def _explained_by_delegation(want: list, got: list) -> bool:
    """A mutant that calls mhsa_ref itself: the kit cannot answer it on inputs no check stored.

    It must already be caught for delegating, and where the kit differs it must fail with `Withheld`.
    """
    delegates = any("called the course's reference implementation" in message for _, _, message in want)
    return delegates and len(want) == len(got) and all(
        w == g or (g[1] != "ok" and "is withheld in this learner environment" in g[2]) for w, g in zip(want, got))


def test_visible_checks_say_the_same_in_the_kit_as_with_the_reference(installed):
    """The correct answers pass every visible cell, and every mutant gets the same verdict and message."""
    full = subprocess.run([str(VENV_BIN / "python"), "-c", textwrap.dedent(VISIBLE_RUN)], cwd=ROOT / "tests",
                          env={**tool_env(), "PYTHONPATH": str(ROOT / "tests")}, capture_output=True, text=True,
                          timeout=900)
    assert full.returncode == 0, full.stderr[-3000:]
    stripped = in_kit(installed, VISIBLE_RUN)
    assert stripped.returncode == 0, stripped.stderr[-3000:]
    want, got = json.loads(full.stdout), json.loads(stripped.stdout)
    assert set(want) == set(got) and len(want) > 150
    for case in want:
        if case.endswith(" correct"):
            assert all(outcome == "ok" for _, outcome, _ in got[case]), (case, got[case])
    different = {case: (want[case], got[case]) for case in want
                 if want[case] != got[case] and not _explained_by_delegation(want[case], got[case])}
    assert different == {}, json.dumps(different, indent=1, ensure_ascii=False)[:6000]
    failing = sum(any(o != "ok" for _, o, _ in cells) for case, cells in got.items() if not case.endswith(" correct"))
    assert failing > 50  # the mutants that a visible check catches are caught in the kit too


def test_a_new_mistake_still_fails_in_the_kit(installed):
    """An answer whose reference calls were never stored fails with the usual message, not a kit error."""
    result = in_kit(installed, """
        import torch
        from mhsa_ref.checks import attention as check, CheckFailure

        def softmax(x, dim=-1):  # off by a little: no suspect describes it
            e = (x - x.amax(dim, keepdim=True)).exp()
            return 1.01 * e / e.sum(dim, keepdim=True)

        try:
            check.softmax_values(softmax)
        except CheckFailure as e:
            print("FAILED:", e)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "FAILED: Wrong values in softmax(x, dim)" in result.stdout
    assert "Withheld" not in result.stdout


def test_every_exercise_validates_whole_in_the_kit(installed, tmp_path):
    """ada's nine notebooks, through the learner's Validate (`nbgrader validate`) in the kit's kernel: every cell
    runs without an error or a line on stderr (validate_all: the try-it cells too, not only the graded ones) and
    every check passes. Each copy starts with a cell that fails unless mhsa_ref is the kit's."""
    sources = sorted((ROOT / "tests" / "demo_submissions" / "ada").glob("*/*.ipynb"))
    assert len(sources) == len(COURSE)
    copies = []
    for source in sources:
        nb = nbformat.read(source, as_version=4)
        nb.cells.insert(0, nbformat.v4.new_code_cell(
            f"import mhsa_ref; assert mhsa_ref.__file__.startswith({str(installed)!r}), mhsa_ref.__file__"))
        copies.append(tmp_path / source.name)
        nbformat.write(nb, copies[-1])
    env = tool_env()
    env["PYTHONPATH"] = str(installed)
    # One thread per kernel: under `make test` this runs beside the book's kernels and the graders on
    # 2 cores, and PyTorch's thread pool, oversubscribed, took 648 s here for what takes 45 s alone.
    env["OMP_NUM_THREADS"] = "1"
    result = subprocess.run([str(VENV_BIN / "nbgrader"), "validate", "--Validator.validate_all=True", *map(str, copies)],
                            cwd=installed, env=env, capture_output=True, text=True, timeout=1500)
    text = result.stdout + result.stderr
    assert text.count("Success! Your notebook passes all the tests.") == len(copies), text[-5000:]
    assert "Withheld" not in text


def test_validate_in_the_kit_names_the_likely_mistake(installed):
    """The learner's Validate button (nbgrader validate) in the kit: ben is told what is wrong, and why."""
    notebook = ROOT / "tests" / "demo_submissions" / "ben" / "04_attention" / "04_attention.ipynb"
    env = tool_env()
    env["PYTHONPATH"] = str(installed)
    result = subprocess.run([str(VENV_BIN / "nbgrader"), "validate", str(notebook)], cwd=installed, env=env,
                            capture_output=True, text=True, timeout=600)
    text = result.stdout + result.stderr
    assert "VALIDATION FAILED" in text and "Success!" not in text, text[-3000:]
    assert "Likely cause" in text
    assert "Withheld" not in text


def test_the_stored_checks_are_the_ones_the_learner_notebooks_run(built):
    """The visible checks the kit stored answers for are exactly those of the released notebooks' test cells."""
    for ex in COURSE:
        released = nbformat.read(built / "exercises" / ex.name / f"{ex.name}.ipynb", as_version=4)
        tests = [c for c in released.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
        calls = [call for c in tests for call in check_calls(c.source)]
        assert calls == list(ex.visible), ex.name


def test_make_learner_kit_is_documented():
    readme = (ROOT / "README.md").read_text()
    assert "make learner-kit" in readme and "Withheld" in readme
    assert "learner-kit:" in (ROOT / "Makefile").read_text()


# --- the pieces, in this process ------------------------------------------------------------------


def test_answers_match_by_value_and_refuse_the_rest():
    from mhsa_ref import withheld

    answers = withheld.Answers()
    x = torch.randn(3, 4, dtype=torch.float64)
    answers.add("attention.softmax", {"x": x, "dim": -1}, torch.softmax(x, -1))
    answers.add("split_heads.split_heads", {"x": x, "num_heads": 3},
                error=ValueError("d_model=4 is not divisible by 3"))
    nudged = x * (1 + 1e-9)  # another CPU's last bit
    assert torch.equal(answers.find("attention.softmax", {"x": nudged, "dim": -1}), torch.softmax(x, -1))
    with pytest.raises(ValueError, match="not divisible by 3"):
        answers.find("split_heads.split_heads", {"x": x, "num_heads": 3})
    for qualname, arguments in (("attention.softmax", {"x": x + 1e-3, "dim": -1}),  # other values
                                ("attention.softmax", {"x": x, "dim": 0}),  # another argument
                                ("attention.softmax", {"x": x.float(), "dim": -1}),  # another dtype
                                ("attention.softmax", {"x": x, "dim": -1, "fn": print}),  # nothing to match by value
                                ("attention.scaled_dot_product_attention", {"x": x, "dim": -1})):
        with pytest.raises(withheld.Withheld, match="is withheld in this learner environment"):
            answers.find(qualname, arguments)


def test_canonical_arguments_fill_defaults_and_read_iterators_once():
    import inspect

    from mhsa_ref import withheld

    def f(tokens, window=2, *, scale=1.0):
        return tokens

    args = withheld.canonical(inspect.signature(f), (iter(["a", "b"]),), {})
    assert args == {"tokens": ["a", "b"], "window": 2, "scale": 1.0}
    assert withheld.key("m.f", args) == withheld.key("m.f", {"tokens": ["a", "b"], "window": 2, "scale": 1.0})
    assert withheld.key("m.f", args) != withheld.key("m.f", {"tokens": ["b", "a"], "window": 2, "scale": 1.0})


def test_rewrite_replaces_only_the_named_definitions():
    source = textwrap.dedent('''\
        """A module."""

        from __future__ import annotations

        import torch


        @torch.no_grad()
        def answer(x: int, y: int = 2) -> int:
            """The answer."""
            return x + y


        def machinery(x):
            return answer(x)
        ''')
    stubs = kit._reference_stubs("demo", ["answer"])
    out = kit.rewrite(source, stubs)
    tree = {n.name: n for n in ast.parse(out).body if isinstance(n, ast.FunctionDef)}
    assert _is_stub(tree["answer"]) and not _is_stub(tree["machinery"])
    assert "return x + y" not in out and "no_grad" not in out
    assert "def answer(x: int, y: int=2) -> int:" in out
    assert out.index("from mhsa_ref import withheld as _withheld") > out.index("from __future__")
    with pytest.raises(ValueError, match="nothing named"):
        kit.rewrite(source, kit._reference_stubs("demo", ["missing"]))


def test_word2vec_trains_with_the_functions_it_is_given():
    from tqdm import tqdm

    from mhsa_ref import corpus, word2vec

    calls = {"pairs": 0, "noise": 0}

    def pairs(ids, window):
        calls["pairs"] += 1
        return word2vec.skipgram_pairs(ids, window)

    def noise(counts, power):
        calls["noise"] += 1
        return word2vec.noise_distribution(counts, power)

    quiet = {"epochs": 1, "dim": 8, "tqdm_class": lambda **kw: tqdm(disable=True, **kw)}
    model = word2vec.train_word2vec(corpus.sentences()[:200], pairs_fn=pairs, noise_fn=noise, **quiet)
    assert calls["noise"] == 1 and calls["pairs"] > 100  # one per sentence of two words or more, after subsampling
    assert torch.equal(model.vectors, word2vec.train_word2vec(corpus.sentences()[:200], **quiet).vectors)


def test_pretrained_word2vec_is_trained_once_and_handed_out_as_a_copy():
    from mhsa_ref import word2vec

    first = word2vec.pretrained()
    first.vectors.zero_()
    first.vocab.clear()
    second = word2vec.pretrained()
    assert len(second.vocab) > 100 and second.vectors.abs().sum() > 0
    assert word2vec._pretrained.cache_info().misses == 1
    near = second.neighbours("cat", 3)
    assert len(near) == 3 and all(-1 <= c <= 1 for _, c in near)


def test_the_kit_holds_the_exercises_in_both_languages(built):
    """exercises/ and exercises-zh/ (the same notebooks, instructions in Chinese), as the course releases them."""
    for folder in ("exercises", "exercises-zh"):
        released = sorted((ROOT / folder).glob("*/*.ipynb"))
        assert len(released) == len(COURSE)
        for notebook in released:
            assert (built / folder / notebook.relative_to(ROOT / folder)).read_bytes() == notebook.read_bytes()
