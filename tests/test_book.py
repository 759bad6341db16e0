"""The static site: built with -W -n, every asset served by the site itself, exercise pages downloadable."""

from __future__ import annotations

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


def test_chapter_was_executed_with_figures_that_have_alt_text(made):
    page = HTML / "chapters" / "04_attention.html"
    images = parse(page).images
    assert len(images) >= 3
    for img in images:
        assert (img.get("alt") or "").strip(), f"an image of {page.name} has no alt text"
        assert (page.parent / img["src"]).exists()
    text = page.read_text()
    assert 'class="cell_output' in text and "Traceback" not in text


def test_exercise_page_is_the_learner_copy_not_executed_and_downloadable(made):
    page = HTML / "exercises" / "04_attention" / "04_attention.html"
    text = page.read_text()
    assert "NotImplementedError" in text and "BEGIN SOLUTION" not in text and "clamp_min" not in text
    assert 'class="cell_output' not in text  # shown as released, never run
    hrefs = parse(page).links
    download = [h for h in hrefs if h.endswith("04_attention.ipynb")]
    assert download, "the exercise page offers no notebook download"
    assert (page.parent / download[0]).resolve().read_bytes() == (ROOT / "exercises" / "04_attention" / "04_attention.ipynb").read_bytes()


def test_chapter_links_to_its_exercise(made):
    page = HTML / "chapters" / "04_attention.html"
    links = parse(page).links
    assert any(h.endswith("exercises/04_attention/04_attention.html") for h in links)
    downloads = [h for h in links if "_downloads" in h and h.endswith(".ipynb")]
    assert downloads and (page.parent / downloads[0]).resolve().exists()


def test_root_opens_the_introduction(made):
    assert "chapters/intro.html" in (HTML / "index.html").read_text()
