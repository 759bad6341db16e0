"""The book's two editions: the class edition never prints a learner function, the reader edition prints them all.

The learner functions are what the exercises ask for (the solution cells of solutions/*/*.ipynb, read by
`grader.kit.exercises`), each with the helpers of its own module that it calls (`attention_weights` is
all of `scaled_dot_product_attention` but one line); their code comes from the reference modules. A
function's *body* is its code lines without the signature, docstrings, comments and blank lines, each with
its whitespace collapsed. A body *appears* in a page when its lines stand one after another in the page's
text (the text of the HTML, code blocks included; comment lines skipped, a trailing comment allowed), and the
pages are every file of the site that a reader can open: the HTML pages, `_sources/` and `_downloads/`.
"""

from __future__ import annotations

import ast
import functools
import inspect
import io
import json
import re
import subprocess
import sys
import textwrap
import time
import tokenize
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT, tool_env

sys.path.insert(0, str(ROOT / "_ext"))
import mhsa_editions  # noqa: E402  (the book's extension: which objects are the learner's)

CLASS_SITE = ROOT / "_build" / "html"
READER_SITE = ROOT / "_build" / "reader" / "_build" / "html"
CHAPTER_SOURCES = sorted((ROOT / "chapters").glob("*.md"))


def normalise(line: str) -> str:
    return " ".join(line.split())


def body_blocks(obj) -> list[list[str]]:
    """obj's code lines: no signature, no docstring (of obj or of its methods), no comment, no blank line.

    A docstring inside the body (a method's) splits it into blocks, because a page that prints the code prints
    the docstring between them; a function has one block.
    """
    source = textwrap.dedent(inspect.getsource(obj))
    node = ast.parse(source).body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)), f"{obj!r}: no def or class in {source!r}"
    skip = set(range(1, node.body[0].lineno))  # decorators and the signature, however many lines
    for inner in ast.walk(node):
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and inner.body:
            first = inner.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                skip.update(range(first.lineno, first.end_lineno + 1))
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
    blocks: list[list[str]] = [[]]
    for number, line in enumerate(lines, 1):
        if number in skip:
            if blocks[-1]:
                blocks.append([])
        elif line.strip():
            blocks[-1].append(normalise(line))
    return [block for block in blocks if block]


def body_lines(obj) -> list[str]:
    return [line for block in body_blocks(obj) for line in block]


TRIVIAL = re.compile(r"return [\w.]+(, [\w.]+)*|(else|try|finally|pass|continue|break)\b.*|super\(\)\.__init__\(\)"
                     r"|with torch\.no_grad\(\):")


def telling(lines: list[str]) -> set[str]:
    """The distinct lines that say something: not `return x`, `else:`, nor anything shorter than 12 characters."""
    return {line for line in lines if len(line) >= 12 and not TRIVIAL.fullmatch(line)}


@functools.cache
def listings() -> dict[str, mhsa_editions.Listing]:
    """Every learner function and helper of the course, by name (a function asked for twice counts once)."""
    return {item.name: item for ex in mhsa_editions.exercises(ROOT) for item in ex.listings}


@functools.cache
def bodies() -> dict[str, list[str]]:
    return {name: body_lines(item.obj) for name, item in listings().items()}


@functools.cache
def blocks() -> dict[str, list[list[str]]]:
    return {name: body_blocks(item.obj) for name, item in listings().items()}


class Text(HTMLParser):
    """The text a reader sees in an HTML page, code blocks included (scripts and styles are not text)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style") and self.hidden > 0

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def page_text(path: Path) -> str:
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        parser = Text()
        parser.feed(raw)
        return "".join(parser.parts)
    if path.suffix == ".ipynb":
        cells = json.loads(raw).get("cells", [])
        texts = ["".join(c.get("source", "")) for c in cells]
        texts += ["".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])]
        return "\n".join(texts)
    return raw


@functools.cache
def site(root: Path) -> dict[str, list[str]]:
    """Every page of a built site -> its normalised non-blank lines."""
    assert (root / "index.html").exists(), f"{root} was not built"
    pages = {}
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if path.suffix in (".html", ".md", ".txt", ".ipynb", ".py") and parts[0] != "_static" and path.is_file():
            lines = (normalise(line) for line in page_text(path).splitlines())
            pages["/".join(parts)] = [line for line in lines if line]
    return pages


def _same(page_line: str, body_line: str) -> bool:
    return page_line == body_line or page_line.startswith(body_line + " #")


def appears(block: list[str], page: list[str]) -> bool:
    """The block's lines stand one after another in the page (its comment lines skipped)."""
    code = [line for line in page if not line.startswith("#")]
    return any(all(_same(code[i + j], b) for j, b in enumerate(block))
               for i in range(len(code) - len(block) + 1) if _same(code[i], block[0]))


def printed(name: str, page: list[str]) -> bool:
    """All of the body is in the page: every block of it, each block contiguous."""
    return all(appears(block, page) for block in blocks()[name])


def leaked(name: str, page: list[str]) -> bool:
    """The body is in the page, or a block of three lines or more is (a method of a class, printed whole)."""
    return printed(name, page) or any(len(block) >= 3 and appears(block, page) for block in blocks()[name])


NAMES = sorted(listings())
SEVERAL_LINES = [name for name in NAMES if len(bodies()[name]) >= 3 and telling(bodies()[name])]


def test_every_learner_function_is_known_and_has_a_body():
    for ex in mhsa_editions.exercises(ROOT):
        assert ex.missing == (), f"exercise {ex.name} asks for {ex.missing}, which its reference module lacks"
        assert [i for i in ex.listings if not i.helper_of], f"exercise {ex.name} asks for no function"
    for name, lines in bodies().items():
        assert lines, f"{name} has no code lines"
    assert "softmax" in NAMES and "attention_weights" in NAMES  # a helper counts with its learner function


def test_no_chapter_includes_or_inspects_a_learner_function():
    """The chapters' source: no literalinclude of a learner function, nothing that prints source at run time."""
    names = "|".join(map(re.escape, NAMES))
    for path in CHAPTER_SOURCES:
        text = path.read_text()
        included = re.findall(rf"^:pyobject:\s*(?:\w+\.)*({names})\s*$", text, re.M)
        assert not included, f"{path.name} includes {included}: in the class edition a learner function is taught, not printed"
        printing = re.findall(r"getsource|getsourcelines|inspect\.getsource|%psource|%pycat|\?\?|__code__|dis\.dis", text)
        assert not printing, f"{path.name} prints source code at run time ({printing})"


@pytest.fixture(scope="module")
def class_edition(made) -> dict[str, list[str]]:
    return site(CLASS_SITE)


@pytest.fixture(scope="module")
def reader_edition(made) -> dict[str, list[str]]:
    """`make book EDITION=reader`, after `make` (the class edition): it reuses its execution cache."""
    from filelock import FileLock

    with FileLock(str(ROOT / "_build" / "make.lock")):
        start = time.monotonic()
        result = subprocess.run(["make", "book", "EDITION=reader"], cwd=ROOT, env=tool_env(), capture_output=True,
                                text=True, timeout=900)
        seconds = time.monotonic() - start
    assert result.returncode == 0, f"make book EDITION=reader failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    executed = re.findall(r"(\S+): Executing notebook", result.stdout + result.stderr)
    assert not executed, f"the reader edition ran {executed}, which the class edition's execution cache should hold"
    print(f"make book EDITION=reader: {seconds:.1f} s")
    return site(READER_SITE)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_class_edition_prints_no_learner_function(class_edition, name):
    leaks = [page for page, lines in class_edition.items() if leaked(name, lines)]
    assert not leaks, (f"the class edition prints the body of {name} ({len(bodies()[name])} lines) in {leaks}: teach "
                       "it with math, shapes and a walk-through; its code belongs to the reader edition")


@pytest.mark.slow
@pytest.mark.parametrize("name", SEVERAL_LINES)
def test_class_edition_has_no_near_copy_of_a_learner_function(class_edition, name):
    lines = telling(bodies()[name])
    for page, page_lines in class_edition.items():
        text = "\n".join(page_lines)
        shown = sorted(line for line in lines if line in text)
        assert len(shown) < len(lines) / 2, (f"{page} shows {len(shown)} of the {len(lines)} telling lines of {name}, "
                                             f"a near-copy of it: {shown}")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_reader_edition_prints_every_learner_function(reader_edition, name):
    pages = [page for page, lines in reader_edition.items() if page.startswith("chapters/") and printed(name, lines)]
    assert pages, f"the reader edition does not print {name}"


@pytest.mark.slow
def test_only_the_reader_edition_has_the_reference_code_sections(class_edition, reader_edition):
    chapters = [p.stem for p in CHAPTER_SOURCES if re.fullmatch(r"\d\d_\w+", p.stem)]
    for chapter in chapters:
        assert "Reader edition." in "\n".join(reader_edition[f"chapters/{chapter}.html"]), chapter
        assert "Reader edition." not in "\n".join(class_edition[f"chapters/{chapter}.html"]), chapter


@pytest.mark.slow
def test_only_the_class_edition_links_to_its_chinese_twin(class_edition, reader_edition):
    """The zh edition is the class edition in Chinese: the reader edition, English only, links to no zh page."""
    page = "chapters/04_attention.html"
    assert 'class="mhsa-languages"' in (CLASS_SITE / page).read_text(encoding="utf-8")
    reader = (READER_SITE / page).read_text(encoding="utf-8")
    assert 'class="mhsa-languages"' not in reader and 'hreflang="zh-CN"' not in reader
