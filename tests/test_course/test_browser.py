"""The course as a reader and a learner meet it: Debian's Chromium, driven by Playwright, offline.

Site: `make` builds it; a plain copy of `_build/html` is served from a sub-folder of a loopback
static server (as any static host would serve it), and every page of the table of contents is
opened with every request that is not to that server blocked and recorded. JupyterLab: `make lab`
on loopback with a token; an exercise is run from the Run menu, its ipywidgets controls are used,
and nbgrader's Validate button gives its verdict.

A failing test leaves a screenshot of its page in _build/browser-failures/. Chromium comes from
`make system-packages` (apt); no browser is ever downloaded.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import sys
import threading
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from conftest import ROOT, SCREENSHOTS, learner_lab

pytestmark = pytest.mark.slow

HTML = ROOT / "_build" / "html"

TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
DOCS = [TOC["root"]] + [c["file"] for part in TOC["parts"] for c in part["chapters"]]
PAGES = [f"{doc}.html" for doc in DOCS] + ["search.html", "genindex.html"]
CHAPTER_PAGES = [f"{doc}.html" for doc in DOCS if re.fullmatch(r"chapters/\d\d_\w+", doc)]
EXERCISE_PAGES = [f"{doc}.html" for doc in DOCS if doc.startswith("exercises/")]
CIVIDIS_ENDS = ("#00224e", "#fee838")  # Plotly's Cividis: colour-blind safe, readable in grey


# --- the browser (conftest.py: Debian's Chromium) ----------------------------------------------------


class Tab:
    """A browser page that blocks and records every request outside `allowed`, and every error."""

    def __init__(self, browser, allowed: str, width: int = 1400) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 1000})
        self.page = self.context.new_page()
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.page.route("**/*", functools.partial(self._route, allowed))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def _route(self, allowed: str, route) -> None:
        url = route.request.url
        if url.startswith(allowed) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def clean(self) -> None:
        assert self.outside == [], f"requests outside the site: {self.outside}"
        assert self.errors == [], f"errors: {self.errors}"
        assert self.failed == [], f"failed requests: {self.failed}"


@pytest.fixture
def tab_factory(browser, request):
    tabs: list[Tab] = []

    def make(allowed: str, width: int = 1400) -> Tab:
        tabs.append(Tab(browser, allowed, width))
        return tabs[-1]

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for i, tab in enumerate(tabs):
        if failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            tab.page.screenshot(path=str(SCREENSHOTS / f"{name}-{i}.png"), full_page=True)
        tab.context.close()


# --- the site, as a plain folder copy on a static host --------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _Host(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A browser that closes a tab while a file is on its way is no error of the site; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def site(made, tmp_path_factory):
    host = tmp_path_factory.mktemp("static-host")
    shutil.copytree(HTML, host / "course")  # a copy in a sub-folder: every link must be relative
    server = _Host(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(host)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/course/"
    server.shutdown()


def load(tab: Tab, site: str, path: str) -> Tab:
    tab.page.goto(site + path, wait_until="load")
    if tab.page.locator(".math").count():
        tab.page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30000)
        tab.page.evaluate("MathJax.startup.promise")
    return tab


def open_page(tab_factory, site: str, path: str) -> Tab:
    return load(tab_factory(site), site, path)


@pytest.fixture(scope="module")
def opened(browser, site):
    """Each page of the site loaded once for the tests that read it (and its menus): a tab per page, kept."""
    tabs: dict[str, Tab] = {}

    def get(path: str) -> Tab:
        if path not in tabs:  # a laptop's 1280-pixel window (test_code_cells_fit_the_page reads it)
            tabs[path] = load(Tab(browser, site, width=1280), site, path)
        return tabs[path]

    yield get
    for tab in tabs.values():
        tab.context.close()


@pytest.fixture
def page_of(opened, request):
    """`opened`, with a screenshot of the page when the test using it fails."""
    used: list[tuple[str, Tab]] = []

    def get(path: str) -> Tab:
        used.append((path, opened(path)))
        return used[-1][1]

    yield get
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for path, tab in used:
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            tab.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_offline_drawn_and_accessible(page_of, path):
    """No error, nothing from elsewhere; images, math and figures drawn; one h1, headings in order, alt text."""
    tab = page_of(path)
    page = tab.page
    assert page.locator("main").count() == 1, "no main content: the page did not render"
    broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert broken == [], f"images not drawn: {broken}"
    math = page.locator(".math").count()
    if math:
        assert page.locator("mjx-container").count() >= math, "some math was not typeset"
        assert page.locator("mjx-merror").count() == 0, "MathJax reported an error"
    for i in range(page.locator(".plotly-graph-div").count()):
        assert page.locator(".plotly-graph-div").nth(i).locator(".main-svg").count() >= 1, f"figure {i} not drawn"
    # what a screen shows: the theme also keeps a print-only copy of the title and contents
    levels = page.evaluate("[...document.querySelectorAll('main h1, main h2, main h3, main h4, main h5, main h6')]"
                           ".filter(h => h.checkVisibility()).map(h => Number(h.tagName[1]))")
    assert levels.count(1) == 1 and levels[0] == 1, f"headings {levels}: one h1, first"
    jumps = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert jumps == [], f"heading levels skip: {jumps}"
    unlabelled = page.evaluate("[...document.querySelectorAll('main img')].filter(i => !(i.alt || '').trim()).map(i => i.src)")
    assert unlabelled == [], f"images without alt text: {unlabelled}"
    uncaptioned = page.evaluate("[...document.querySelectorAll('main figure')].filter(f => !f.querySelector('figcaption')"
                                " || !f.querySelector('figcaption').textContent.trim()).length")
    assert uncaptioned == 0, "a figure without a caption"
    assert page.evaluate("document.documentElement.lang"), "the page does not declare its language"
    tab.clean()


@pytest.mark.parametrize("path", CHAPTER_PAGES + ["chapters/closing.html"])
def test_code_cells_fit_the_page(page_of, path):
    """In a laptop's 1280-pixel window no code cell runs off the page: long lines are wrapped in the source."""
    tab = page_of(path)  # the page test_page_loads_offline_drawn_and_accessible loaded, in that window
    for toggle in tab.page.locator("details.hide summary").all():  # hidden inputs count once opened
        toggle.click()
    wide = tab.page.evaluate(
        "[...document.querySelectorAll('main div.cell_input pre')].filter(p => p.checkVisibility())"
        ".filter(p => p.scrollWidth > p.clientWidth + 1)"
        ".map(p => p.textContent.split('\\n').reduce((a, b) => a.length >= b.length ? a : b))")
    assert wide == [], f"code wider than the page; longest line of each: {wide}"
    tab.clean()


PLOTLY_STATE = """gd => JSON.stringify({title: gd.layout.title && gd.layout.title.text,
                                       data: gd.data.map(t => [t.visible, t.z, t.x, t.y])})"""


@pytest.mark.parametrize("path", CHAPTER_PAGES)
def test_interactive_figures_respond_to_their_menu(page_of, path):
    tab = page_of(path)  # the page test_page_loads_offline_drawn_and_accessible loaded
    figures = tab.page.locator(".plotly-graph-div")
    for i in range(figures.count()):
        figure = figures.nth(i)
        figure.scroll_into_view_if_needed()
        if not figure.locator(".updatemenu-header-group").count():
            continue  # a figure without a menu answers on hover only
        options = figure.evaluate("gd => gd.layout.updatemenus[0].buttons.map(b => b.label)")
        before = figure.evaluate(PLOTLY_STATE)
        figure.locator(".updatemenu-header-group").click()
        figure.locator(".updatemenu-dropdown-button").nth(len(options) - 1).click()
        after = figure.evaluate(PLOTLY_STATE)
        assert after != before, f"figure {i}: choosing {options[-1]!r} changed nothing"
        shown = figure.locator(".updatemenu-header-group text").first.text_content()
        assert shown == options[-1], f"figure {i}: the menu shows {shown!r} after choosing {options[-1]!r}"
    tab.clean()


@pytest.mark.parametrize("path", CHAPTER_PAGES)
def test_heatmaps_are_colour_blind_safe_and_offer_their_values(page_of, path):
    page = page_of(path).page  # their colour scales and hover texts, whatever the menus show
    traces = page.evaluate("[...document.querySelectorAll('.plotly-graph-div')].flatMap(gd => gd._fullData)"
                           ".filter(t => t.type === 'heatmap').map(t => [t.colorscale, t.hovertemplate])")
    for colorscale, hover in traces:
        assert (colorscale[0][1].lower(), colorscale[-1][1].lower()) == CIVIDIS_ENDS
        assert "%{z" in hover, "a heatmap must show its value on hover"
    static = (ROOT / "chapters" / Path(path).with_suffix(".md").name).read_text()
    colour_maps = set(re.findall(r"cmap=['\"](\w+)['\"]", static))
    assert colour_maps <= {"cividis"}, f"static figures use {colour_maps}; the course's heatmaps use cividis"
    assert "cmap=" not in static or colour_maps, "a colour map passed by variable cannot be checked"


def test_navigation_and_search_work(tab_factory, site):
    tab = open_page(tab_factory, site, "chapters/intro.html")
    page = tab.page
    page.locator("a.right-next").first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("chapters/01_one_hot.html")
    page.locator("nav.bd-links a[href$='06_split_heads.html']").first.click()  # the sidebar
    page.wait_for_load_state("load")
    assert page.url.endswith("chapters/06_split_heads.html")
    page.goto(site + "search.html?q=transpose", wait_until="load")
    page.wait_for_selector("#search-results ul li a", timeout=30000)
    hits = page.locator("#search-results ul li a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert any("06_split_heads" in h for h in hits) and any("07_concat_and_output" in h for h in hits), hits
    tab.clean()


@pytest.mark.parametrize("path", EXERCISE_PAGES)
def test_exercise_page_offers_its_notebook(page_of, path):
    tab = page_of(path)  # the page test_page_loads_offline_drawn_and_accessible loaded
    name = Path(path).stem
    links = tab.page.locator(f"a[href$='{name}.ipynb']")
    assert links.count() >= 1, "no download link for the notebook"
    response = tab.page.request.get(links.first.evaluate("a => a.href"))
    assert response.ok
    notebook = json.loads(response.body())
    assert notebook["nbformat"] == 4 and any("raise NotImplementedError()" in "".join(c["source"]) for c in notebook["cells"])
    tab.clean()


# --- JupyterLab, as a learner uses it -----------------------------------------------------------------

TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with learner_lab(tmp_path_factory.mktemp("learner"), TOKEN, "06_split_heads", "05_self_attention") as base:
        yield base


def open_notebook(tab_factory, lab: str, name: str) -> Tab:
    tab = tab_factory(lab)
    # `reset`: a fresh workspace, or JupyterLab would also reopen the notebooks of earlier tests
    tab.page.goto(f"{lab}/lab/tree/{name}?token={TOKEN}&reset", wait_until="load")
    tab.page.wait_for_selector(".jp-NotebookPanel-toolbar", timeout=90000)
    tab.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90000)
    # a command sent before the kernel is up is dropped: wait for the status bar's "Idle"
    tab.page.get_by_text(re.compile(r"\(ipykernel\) \| Idle")).first.wait_for(timeout=120000)
    return tab


def validate(tab: Tab) -> str:
    panel = tab.page.locator(".jp-NotebookPanel").filter(visible=True)
    assert panel.count() == 1, "expected one notebook on screen"
    panel.get_by_role("button", name="Validate").click()
    dialog = tab.page.locator(".jp-Dialog")
    dialog.wait_for(timeout=240000)
    tab.page.wait_for_function("!document.querySelector('.jp-Dialog').innerText.includes('Validating')", timeout=240000)
    return dialog.inner_text()


def test_lab_runs_an_exercise_and_its_widgets_respond(tab_factory, lab):
    tab = open_notebook(tab_factory, lab, "filled.ipynb")
    page = tab.page
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator(".lm-Menu-content").get_by_text("Run All Cells", exact=True).click()
    page.locator(".jp-InputArea-prompt", has_text="[1]:").first.wait_for(timeout=60000)  # it runs
    sentence = page.locator(".widget-text input").first
    sentence.wait_for(timeout=180000)  # the explorer trains word2vec first (a few seconds)
    for control in ("causal mask", "d_k", "temperature"):
        assert page.locator(".jupyter-widgets", has_text=control).count() >= 1, f"no {control!r} control"
    # Run All done (no cell waiting or running, "[*]"): the explorer drew its first picture and the kernel is free
    # to answer the text box; typed before that, the sentence waits behind the run (or is taken for the first)
    page.wait_for_function("() => ![...document.querySelectorAll('.jp-InputArea-prompt')]"
                           ".some(p => p.textContent.includes('*'))", timeout=180000)
    picture = page.locator(".jp-OutputArea-output img").last
    picture.wait_for(timeout=60000)
    before = picture.get_attribute("src")
    changed = ("old => { const imgs = document.querySelectorAll('.jp-OutputArea-output img');"
               " return imgs.length && imgs[imgs.length - 1].src !== old; }")
    # Typed key by key, as a learner types. In two runs of about ten the first sentence changed nothing within
    # 60 s (cause not found; not a busy kernel: Run All is done above), so a second sentence gets its own 60 s;
    # the test fails only if neither redraws the picture.
    for words in ("the cat drank milk", "we went to the bank"):
        sentence.fill("")
        sentence.press_sequentially(words)
        sentence.press("Enter")
        try:
            page.wait_for_function(changed, arg=before, timeout=60000)
            break
        except PlaywrightTimeout:
            continue
    else:
        pytest.fail("the explorer redrew nothing for either sentence")
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert page.locator(".jp-OutputArea-output", has_text="Traceback").count() == 0, errors.all_inner_texts()
    assert tab.outside == [], f"JupyterLab reached outside: {tab.outside}"
    assert [e for e in tab.errors if "page error" in e] == []


def test_validate_fails_the_untouched_notebook_and_passes_a_filled_one(tab_factory, lab):
    untouched = validate(open_notebook(tab_factory, lab, "untouched.ipynb"))
    assert "passes all the tests" not in untouched
    assert "NotImplementedError" in untouched or "failed" in untouched.lower(), untouched
    filled = validate(open_notebook(tab_factory, lab, "filled.ipynb"))
    assert "Success! Your notebook passes all the tests." in filled, filled


# --- the Chinese edition, published in the English site's zh/ folder ---------------------------------------

ZH_PAGES = [f"zh/{page}" for page in ("chapters/intro.html", "chapters/02_word2vec.html", "chapters/06_split_heads.html",
                                      "chapters/09_trained_heads.html", "chapters/glossary.html",
                                      "exercises/04_attention/04_attention.html", "search.html")]
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("path", ZH_PAGES)
def test_zh_page_loads_offline_in_chinese(page_of, path):
    """The page says it is Chinese, reads as Chinese, and is drawn whole: images with Chinese alt text, math, figures."""
    tab = page_of(path)
    page = tab.page
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("main").count() == 1
    text = page.locator("main").inner_text()
    assert len(HAN.findall(text)) > (1 if path.endswith("search.html") else 200), text[:500]  # search: its box
    assert HAN.search(page.locator("nav.bd-links").first.inner_text()), "the table of contents is not in Chinese"
    broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert broken == [], f"images not drawn: {broken}"
    alts = page.evaluate("[...document.querySelectorAll('main img')].map(i => i.alt)")
    assert all(HAN.search(alt) for alt in alts), f"alt text not in Chinese: {[a for a in alts if not HAN.search(a)][:2]}"
    if page.locator(".math").count():
        assert page.locator("mjx-merror").count() == 0 and page.locator("mjx-container").count()
    titles = page.evaluate("[...document.querySelectorAll('.plotly-graph-div')].map(gd => gd.layout.title.text || '')")
    assert all(HAN.search(t) for t in titles if t), f"interactive figures' titles not in Chinese: {titles}"
    tab.clean()


def test_zh_search_finds_a_chinese_term(tab_factory, site):
    tab = tab_factory(site)
    page = tab.page
    page.goto(site + "zh/search.html?q=子空间", wait_until="load")
    page.wait_for_selector("#search-results ul li a", timeout=30000)
    hits = page.locator("#search-results ul li a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert any("06_split_heads" in h for h in hits), hits
    tab.clean()


def test_each_page_links_to_itself_in_the_other_language(tab_factory, site):
    tab = tab_factory(site)
    page = tab.page
    page.goto(site + "chapters/04_attention.html", wait_until="load")
    page.locator("p.mhsa-languages a[hreflang='zh-CN']").click()
    page.wait_for_load_state("load")
    assert page.url == site + "zh/chapters/04_attention.html"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.locator("p.mhsa-languages a[hreflang='en']").click()
    page.wait_for_load_state("load")
    assert page.url == site + "chapters/04_attention.html"
    assert page.evaluate("document.documentElement.lang") == "en"
    tab.clean()
