"""The Chinese edition: complete catalogs, a zh site built from them, zh exercises graded as the English ones.

The English pages are the source; `make locales` extracts their messages (Sphinx's gettext builder) and
merges them into locales/zh_CN/LC_MESSAGES/ with sphinx-intl. Here the messages are extracted afresh
from the pages as they are now, so a sentence changed without its translation fails the suite, and a
test proves that on a changed sentence. The site itself is checked by `make`'s build (`made`) and in
Chromium (test_browser.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, VENV_BIN, tool_env

sys.path.insert(0, str(ROOT / "_ext"))
import mhsa_languages  # noqa: E402

pytestmark = pytest.mark.slow

ZH_SITE = ROOT / "_build" / "zh" / "_build" / "html"
MESSAGES = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
# What the gettext build needs of the book, copied for a build of a changed page.
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib", "README.md", "_ext", "_static", "chapters", "exercises",
              "locales")


def extract(book: Path, out: Path) -> Path:
    """The gettext builder over `book`, as `make locales` runs it; returns the folder of .pot files."""
    result = subprocess.run(
        [str(VENV_BIN / "jupyter-book"), "build", str(book), "--path-output", str(out), "--builder", "custom",
         "--custom-builder", "gettext", "-W", "--keep-going"],
        cwd=book, env={**tool_env(), "MHSA_EDITION": "class"}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Executing notebook" not in result.stdout, "the extraction ran a chapter: the execution cache was not used"
    return out / "_build" / "gettext"


@pytest.fixture(scope="module")
def pots(made, tmp_path_factory) -> Path:
    return extract(ROOT, tmp_path_factory.mktemp("gettext"))


def test_every_message_of_the_book_and_the_exercises_is_translated(pots):
    """Untranslated, fuzzy (English changed since), or markup lost: each is listed, and fails the test."""
    docs = {p.relative_to(pots).with_suffix("").as_posix() for p in pots.rglob("*.pot")}
    toc = [c["file"] for part in __import__("yaml").safe_load((ROOT / "_toc.yml").read_text())["parts"]
           for c in part["chapters"]] + ["chapters/intro"]
    assert set(toc) <= docs, f"pages with no messages extracted: {set(toc) - docs}"
    problems = mhsa_languages.catalog_problems(pots)
    assert problems == [], f"{len(problems)} messages are not translated in full:\n" + "\n".join(problems[:40])


def test_every_catalog_belongs_to_a_page(pots):
    """A catalog whose page is gone, or a translation whose English is gone, is reported as stale."""
    pages = {p.relative_to(pots).with_suffix("").as_posix() for p in pots.rglob("*.pot")}
    catalogs = {p.relative_to(MESSAGES).with_suffix("").as_posix() for p in MESSAGES.rglob("*.po")}
    assert catalogs == pages, f"catalogs without a page: {catalogs - pages}; pages without a catalog: {pages - catalogs}"
    for page in sorted(pages):
        wanted = set(mhsa_languages.read_catalog(pots / f"{page}.pot"))
        stale = set(mhsa_languages.read_catalog(MESSAGES / f"{page}.po")) - wanted
        assert not stale, f"{page}.po translates English the page no longer has (run `make locales`): {sorted(stale)[:3]}"


def test_a_changed_english_sentence_fails_the_check(made, tmp_path):
    """Change one sentence of chapter 01: the check names it; after `sphinx-intl update` it names it as fuzzy."""
    book = tmp_path / "book"
    book.mkdir()
    for name in BOOK_FILES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, book / name)
    for name in ("mhsa_ref", "benchmarks"):  # read by literalinclude and the chapters' code, never changed here
        (book / name).symlink_to(ROOT / name)
    (book / "_build").mkdir()
    (book / "_build" / ".jupyter_cache").symlink_to(ROOT / "_build" / ".jupyter_cache")  # nothing is re-executed
    chapter = book / "chapters" / "01_one_hot.md"
    old = "It can compute with numbers, so the first step"
    new = "It computes with numbers, so the first step"
    assert chapter.read_text().count(old) == 1
    chapter.write_text(chapter.read_text().replace(old, new))

    real = mhsa_languages.ROOT
    try:
        mhsa_languages.ROOT = book  # the check reads the copy's catalogs
        pots = extract(book, tmp_path / "gettext")
        problems = mhsa_languages.catalog_problems(pots)
        assert len(problems) == 1 and problems[0].startswith("chapters/01_one_hot: untranslated: 'A computer cannot"), problems
        update = subprocess.run(
            [str(VENV_BIN / "sphinx-intl"), "update", "--pot-dir", str(pots), "--locale-dir", str(book / "locales"),
             "--language", "zh_CN", "--line-width", "-1"], cwd=book, env=tool_env(), capture_output=True, text=True)
        assert update.returncode == 0, update.stderr
        problems = mhsa_languages.catalog_problems(pots)
        assert len(problems) == 1 and problems[0].startswith("chapters/01_one_hot: fuzzy"), problems
    finally:
        mhsa_languages.ROOT = real


@pytest.mark.parametrize("english, chinese, why", [
    ("The `view` of $x_i$ at [chapter 06](06.md) has 8 heads.", "[第 06 章](06.md) 中 $x_i$ 的 `view` 有 8 个头。", None),
    ("The `view` of $x_i$ has 8 heads.", "$x_i$ 的 view 有 8 个头。", "`view`"),
    ("The `view` of $x_i$ has 8 heads.", "`view` 有 8 个头。", "$x_i$"),
    ("Choose a head in the menu: %{y} %{z:.4f}", "在菜单中选择一个头：%{y} %{z}", "%{z:.4f}"),
    ("A head of width 2 sees a plane.", "宽度为两维的头看到一个平面。", "2"),
    ("See [the exercise](../exercises/x.ipynb).", "见[练习](x.ipynb)。", "](../exercises/x.ipynb)"),
])
def test_the_check_refuses_a_translation_that_loses_markup_or_a_number(english, chinese, why):
    same = mhsa_languages.kept(english) == mhsa_languages.kept(chinese)
    assert same == (why is None), (english, chinese)


def test_the_zh_site_is_built_in_chinese_from_the_same_outputs(made):
    """`make` built the zh edition: every page in Chinese, with the English build's outputs, linked both ways."""
    for page in ("chapters/intro.html", "chapters/06_split_heads.html", "chapters/glossary.html",
                 "exercises/04_attention/04_attention.html"):
        zh = (ZH_SITE / page).read_text(encoding="utf-8")
        en = (ROOT / "_build" / "html" / page).read_text(encoding="utf-8")
        assert '<html lang="zh-CN"' in zh and '<html lang="en"' in en
        assert len(re.findall(r"[\u4e00-\u9fff]", zh)) > 200, f"{page} has little Chinese"
        depth = "../" * page.count("/")
        assert f'href="{depth}zh/{page}" hreflang="zh-CN"' in en and f'href="{depth}../{page}" hreflang="en"' in zh
        assert (ROOT / "_build" / "html" / "zh" / page).read_text(encoding="utf-8") == zh  # published beside it
        assert "Show code cell" not in zh and "Hide code cell" not in zh  # the hidden cells' toggles too
    # the code and what it printed are the English build's, character for character
    page = "chapters/04_attention.html"
    zh, en = ((site / page).read_text(encoding="utf-8") for site in (ZH_SITE, ROOT / "_build" / "html"))
    printed = lambda html: re.findall(r"<pre>(.*?)</pre>", html, re.S)
    assert printed(zh) == printed(en) and printed(en)


def test_the_zh_build_executes_nothing(made):
    """The zh build reads the English build's execution cache: every chapter comes from it, none is executed."""
    log = (ROOT / "_build" / "zh" / "build.log").read_text()  # the Makefile keeps the last zh build's log
    read = dict(re.findall(r"chapters/(\w+)\.md: (Using cached notebook|Executing notebook)", log))
    assert read, "the last zh build read no chapter"  # a clean build reads them all; a later one, those that changed
    assert set(read.values()) == {"Using cached notebook"}, read


def test_the_interactive_figures_speak_the_editions_language(made):
    """Every interactive figure of the zh page is the English one with its words translated from the page's catalog."""
    page = "chapters/06_split_heads.html"
    zh = (ZH_SITE / page).read_text(encoding="utf-8")
    en = (ROOT / "_build" / "html" / page).read_text(encoding="utf-8")
    messages = mhsa_languages.catalog("zh", "chapters/06_split_heads")
    expected = mhsa_languages.translate_figures(en, lambda text: messages.get(text, text))
    calls = lambda html: [args[1:3] for _, _, args in mhsa_languages.plotly_calls(html)]
    assert calls(en) and calls(zh) == calls(expected)
    words = mhsa_languages.figure_words(en)
    assert sum(messages.get(w, w) != w for w in words) >= len(words) // 2, "most of the figures' words stay English"
    assert calls(zh) != calls(en)


# --- the exercises in Chinese ------------------------------------------------------------------------------


def test_the_zh_exercises_are_the_release_with_chinese_instructions():
    for notebook in sorted((ROOT / "exercises").glob("[0-9][0-9]_*/*.ipynb")):
        rel = notebook.relative_to(ROOT / "exercises")
        en = nbformat.read(notebook, as_version=4)
        zh = nbformat.read(ROOT / "exercises-zh" / rel, as_version=4)
        assert len(en.cells) == len(zh.cells)
        for a, b in zip(en.cells, zh.cells):
            assert a.cell_type == b.cell_type and a.metadata == b.metadata and a.get("id") == b.get("id")
            if a.cell_type == "code":
                assert a.source == b.source
            else:
                assert re.search(r"[\u4e00-\u9fff]", b.source) or not re.search(r"[A-Za-z]{4}", a.source), b.source
    regenerated = subprocess.run([str(VENV_BIN / "python"), "-c",
                                  "import sys; sys.path.insert(0, '_ext'); import mhsa_languages as m, tempfile, pathlib;"
                                  "d = pathlib.Path(tempfile.mkdtemp()); m.release('zh', d); print(d)"],
                                 cwd=ROOT, env=tool_env(), capture_output=True, text=True, check=True)
    out = Path(regenerated.stdout.strip())
    for notebook in sorted(out.rglob("*.ipynb")):
        committed = ROOT / "exercises-zh" / notebook.relative_to(out)
        assert committed.read_bytes() == notebook.read_bytes(), f"{committed} is stale: run `make exercises`"


def test_a_chinese_submission_earns_what_the_same_english_one_earns(tmp_path):
    """ada's and ben's answers in the zh release and in the English one, graded together by `make grade`."""
    import demo_builder
    from grader import run as grading
    from grader import sandbox

    a = "04_attention"
    course = tmp_path / "class"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder, course / folder)
    subprocess.run(["nbgrader", "generate_assignment", a, "--force", "--log-level=ERROR"], cwd=course,
                   env={**tool_env(), "MHSA_DB_URL": ""}, check=True, capture_output=True, timeout=300)
    for learner in ("ada", "ben"):
        for lang, release in (("en", ROOT / "exercises"), ("zh", ROOT / "exercises-zh")):
            nb = demo_builder.build(learner, a, release)
            if lang == "zh":
                assert any(re.search(r"[\u4e00-\u9fff]", c.source) for c in nb.cells if c.cell_type == "markdown")
            target = course / "submitted" / f"{learner}_{lang}" / a / f"{a}.ipynb"
            target.parent.mkdir(parents=True)
            nbformat.write(nb, target)
    limits = sandbox.Limits(cell_s=20, notebook_s=90, memory_mb=3072, processes=48)
    jobs, refused = grading.run(course, workers=2, limits=limits, progress=False)
    earned = {job.student: job.earned for job in jobs}
    assert refused == [] and len(earned) == 4
    assert earned["ada_zh"] == earned["ada_en"] == 18.0
    assert earned["ben_zh"] == earned["ben_en"] == 9.0
    verdicts = {job.student: [(v.grade_id, v.earned) for v in job.verdicts] for job in jobs}
    assert verdicts["ben_zh"] == verdicts["ben_en"]
