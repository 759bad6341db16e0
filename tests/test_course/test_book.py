"""The static site: built with -W -n, every asset served by the site itself, exercise pages downloadable."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

HTML = ROOT / "_build" / "html"
ASSET_ATTRS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "audio": "src", "video": "src",
               "embed": "src", "link": "href"}


class Assets(HTMLParser):
    """Collects every URL a browser would fetch on load, and the images with their alt text."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("rel") in ("next", "prev", "index", "search"):
            self.links.append(a.get("href") or "")
        elif tag in ASSET_ATTRS and a.get(ASSET_ATTRS[tag]):
            self.urls.append(a[ASSET_ATTRS[tag]])
        if tag == "img":
            self.images.append(a)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])


def parse(page: Path) -> Assets:
    parser = Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def pages(made) -> list[Path]:
    # _static/ holds the theme's Jinja templates (*.html), which are not pages
    found = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.relative_to(HTML).parts)
    assert found, "the site was not built"
    return found


def test_no_page_loads_anything_from_elsewhere(pages):
    for page in pages:
        outside = [u for u in parse(page).urls if re.match(r"^(https?:)?//", u)]
        assert outside == [], f"{page.relative_to(HTML)} loads {outside}"


def test_every_local_asset_exists(pages):
    for page in pages:
        for url in parse(page).urls:
            if url.startswith(("data:", "#")):
                continue
            target = (page.parent / url.split("?")[0].split("#")[0]).resolve()
            assert target.exists(), f"{page.relative_to(HTML)} needs {url}, which the site does not have"


def test_math_is_rendered_by_a_local_mathjax(made):
    page = (HTML / "chapters" / "04_attention.html").read_text()
    assert re.search(r'src="[./]*_static/mathjax/tex-chtml\.js(\?[^"]*)?"', page)  # ?v=… after a rebuild
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").stat().st_size > 100_000
    assert page.count('class="math') >= 5  # display and inline math reach MathJax


CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.md"))
EXERCISES = sorted(p.name for p in (ROOT / "exercises").iterdir() if p.is_dir())
FIGURES = {"01_one_hot": 2, "02_word2vec": 3, "03_elmo": 3, "04_attention": 3, "05_self_attention": 3,
           "06_split_heads": 2, "07_concat_and_output": 2, "08_cost_and_gpu": 2,
           "09_trained_heads": 6}  # static figures
INTERACTIVE = {"01_one_hot": 1, "02_word2vec": 1, "03_elmo": 1, "04_attention": 1, "05_self_attention": 2,
               "06_split_heads": 2, "09_trained_heads": 4}  # Plotly figures


def test_every_chapter_and_exercise_is_in_the_book():
    assert sorted(FIGURES) == CHAPTERS
    toc = (ROOT / "_toc.yml").read_text()
    for name in CHAPTERS:
        assert f"chapters/{name}" in toc
    for name in EXERCISES:
        assert f"exercises/{name}/{name}" in toc


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_was_executed_with_figures_that_have_alt_text(made, chapter):
    page = HTML / "chapters" / f"{chapter}.html"
    images = parse(page).images
    assert len(images) >= FIGURES[chapter]
    for img in images:
        assert (img.get("alt") or "").strip(), f"an image of {page.name} has no alt text"
        assert (page.parent / img["src"]).exists()
    text = page.read_text()
    assert 'class="cell_output' in text and "Traceback" not in text
    assert text.count("<figcaption") >= FIGURES[chapter]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_interactive_figures_use_the_sites_own_plotly(made, chapter):
    """Kernel-free figures: a Plotly div, drawn by the plotly.js the site serves, loaded before the page body."""
    text = (HTML / "chapters" / f"{chapter}.html").read_text()
    divs = text.count('class="plotly-graph-div"')
    assert divs == INTERACTIVE.get(chapter, 0)
    scripts = [u for u in parse(HTML / "chapters" / f"{chapter}.html").urls if "plotly" in u]
    if divs:
        assert scripts == [s for s in scripts if s.split("?")[0] == "../_static/plotly.min.js"] and len(scripts) == 1
        assert text.index("plotly.min.js") < text.index('class="plotly-graph-div"')
        assert (HTML / "_static" / "plotly.min.js").stat().st_size > 1_000_000
    else:
        assert scripts == []  # 4.8 MB only where a figure needs it


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_kernel_only_control_reaches_the_site(made, chapter):
    """ipywidgets need a kernel; a page must not show a widget that cannot work."""
    text = (HTML / "chapters" / f"{chapter}.html").read_text()
    assert "application/vnd.jupyter.widget-view+json" not in text and "widget-state" not in text


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_progress_bar_reaches_a_page(made, chapter):
    """Training progress belongs in the notebooks; a built page would show a frozen bar about the build."""
    text = (HTML / "chapters" / f"{chapter}.html").read_text()
    assert not re.search(r"\d+%\|", text) and "epoch/s" not in text


def test_closing_page_is_executed_and_holds_the_references(made):
    page = HTML / "chapters" / "closing.html"
    text = page.read_text()
    assert "chapters/closing" in (ROOT / "_toc.yml").read_text()
    assert 'class="cell_output' in text and "Traceback" not in text
    for check in ("step by step with a cache == full causal attention: True",
                  "grouped-query == each shared head repeated for its group: True",
                  "multi-query:  0.12 GiB per sequence (formula:  0.12 GiB)"):
        assert check in text, check
    for work in ("Attention Is All You Need", "Efficient Estimation of Word Representations",
                 "Deep Contextualized Word Representations", "FlashAttention: Fast and Memory-Efficient",
                 "FlashAttention-2", "The Illustrated Transformer", "RoFormer", "Attention is not Explanation",
                 "One Write-Head is All You Need"):
        assert work.lower() in text.lower(), f"the closing page's references lack {work!r}"  # the style lowercases titles


@pytest.mark.parametrize("chapter", ["02_word2vec", "03_elmo", "04_attention", "05_self_attention",
                                     "06_split_heads", "07_concat_and_output", "08_cost_and_gpu",
                                     "09_trained_heads"])
def test_chapter_cites_its_sources_with_links_to_the_references(made, chapter):
    links = parse(HTML / "chapters" / f"{chapter}.html").links
    cited = [h for h in links if h.startswith("closing.html#id")]
    assert cited, f"{chapter} cites nothing"
    targets = set(re.findall(r'id="(id\d+)"', (HTML / "chapters" / "closing.html").read_text()))
    assert {h.split("#")[1] for h in cited} <= targets  # every citation lands on a reference


@pytest.mark.parametrize("name", EXERCISES)
def test_exercise_page_is_the_learner_copy_not_executed_and_downloadable(made, name):
    page = HTML / "exercises" / name / f"{name}.html"
    text = page.read_text()
    assert "NotImplementedError" in text and "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert 'class="cell_output' not in text  # shown as released, never run
    hrefs = parse(page).links
    download = [h for h in hrefs if h.endswith(f"{name}.ipynb")]
    assert download, "the exercise page offers no notebook download"
    assert (page.parent / download[0]).resolve().read_bytes() == (ROOT / "exercises" / name / f"{name}.ipynb").read_bytes()


@pytest.mark.parametrize("chapter", EXERCISES)
def test_chapter_exercise_section_lists_what_its_notebook_asks(chapter):
    """A chapter's exercise section names every function its notebook asks for, and every question by its title."""
    page = (ROOT / "chapters" / f"{chapter}.md").read_text()
    section = " ".join(re.search(r"^## (?:Exercise|Your turn)\n(.*?)(?=^## |\Z)", page, re.M | re.S).group(1).split())
    asked = []
    for cell in json.loads((ROOT / "solutions" / chapter / f"{chapter}.ipynb").read_text())["cells"]:
        nbgrader = cell["metadata"].get("nbgrader", {})
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and nbgrader.get("solution") and not nbgrader["grade_id"].startswith("answer_"):
            asked.append(f"`{nbgrader['grade_id']}")
        elif cell["cell_type"] == "markdown" and source.startswith("### "):
            asked.append(f"*{source.splitlines()[0].split(' · ', 1)[1]}*")
    assert len(asked) >= 5
    assert [a for a in asked if a not in section] == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_links_to_its_exercise(made, chapter):
    page = HTML / "chapters" / f"{chapter}.html"
    links = parse(page).links
    assert any(h.endswith(f"exercises/{chapter}/{chapter}.html") for h in links)
    downloads = [h for h in links if "_downloads" in h and h.endswith(".ipynb")]
    assert downloads and (page.parent / downloads[0]).resolve().exists()


def test_root_opens_the_introduction(made):
    assert "chapters/intro.html" in (HTML / "index.html").read_text()


def test_markdown_printed_by_a_cell_renders_as_a_table(made):
    """The neighbours of chapter 02 are printed as Markdown; the page must show a table, not pipes."""
    text = (HTML / "chapters" / "02_word2vec.html").read_text()
    assert re.search(r"<th[^>]*><p>nearest words \(cosine\)</p></th>", text)
    assert not re.search(r"<p>\|\s*word", text)  # CommonMark would print the pipes as a paragraph


def test_no_page_source_holds_a_control_character():
    """A tab or another control character in a chapter is a slip: closing.md's math once held a tab where
    `\\text` was meant (a "\\t" written through a Python string), and MathJax drew "ext" without a word of warning."""
    for source in sorted((ROOT / "chapters").glob("*.md")):
        bad = [n for n, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1)
               if re.search(r"[\x00-\x09\x0b-\x1f\x7f]", line)]
        assert bad == [], f"{source.relative_to(ROOT)} has control characters on lines {bad}"
