"""The book's two languages from one source: English, and Simplified Chinese from gettext catalogs.

English is the source. The Chinese edition (`make book LANG=zh`) is the same pages, read through the
catalogs under `locales/zh_CN/LC_MESSAGES/` (one `.po` file per page, maintained with sphinx-intl:
`make locales`). Sphinx translates the prose, titles, admonitions, captions and tables itself; this
extension adds what Sphinx does not reach, because myst-nb makes it only after Sphinx has translated a
page (cell outputs are chosen at write time):

* the **alt text** of a chapter's figures (`mystnb.image.alt` in a cell's metadata);
* the words of the **interactive figures** (Plotly): titles, axis titles, the names in their menus
  and what a hover shows. The figures' data (the words of the corpus, the numbers) stay as they are.

Both are extracted into the page's own catalog by the gettext builder, and translated when the page is
written. The text drawn inside a static (matplotlib) figure is part of the executed output, which the
Chinese edition shares with the English one (it executes nothing): its captions say what the English
labels mean.

Every page of each edition links to the same page of the other, published side by side: the English
site at the root, the Chinese one in its `zh/` folder (`make` copies it there).

Run as a script, it writes what the Makefile needs:

    python _ext/mhsa_languages.py config zh OUT.yml      # _config.yml with the zh overlay
    python _ext/mhsa_languages.py exercises zh OUT_DIR    # the learner notebooks in Chinese
    python _ext/mhsa_languages.py check zh POT_DIR        # what the catalogs still lack (make locales)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCALES = "locales"
# The editions: the book's language code (LANG=... for make), Sphinx's language, the html lang attribute,
# the folder of the published site (relative to the English root), and the name of the link to it.
LANGUAGES = {
    "en": {"sphinx": "en", "html": "en", "folder": "", "link": "English"},
    "zh": {"sphinx": "zh_CN", "html": "zh-CN", "folder": "zh/", "link": "中文"},
}


def language_of(sphinx_language: str | None) -> str:
    for code, spec in LANGUAGES.items():
        if spec["sphinx"] == (sphinx_language or "en"):
            return code
    raise ValueError(f"language {sphinx_language!r}: the book has {', '.join(s['sphinx'] for s in LANGUAGES.values())}")


def overlay(code: str) -> Path:
    """The edition's changes to _config.yml (its title, Sphinx's language): locales/<lang>/_config.yml."""
    return ROOT / LOCALES / LANGUAGES[code]["sphinx"] / "_config.yml"


def merged_config(code: str) -> dict:
    """_config.yml with the language's overlay merged in; local extension paths made absolute."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))

    def merge(base: dict, extra: dict) -> None:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    if code != "en":
        merge(config, yaml.safe_load(overlay(code).read_text(encoding="utf-8")))
    extensions = config.get("sphinx", {}).get("local_extensions", {})
    for name, folder in extensions.items():  # jupyter-book reads them relative to the config file
        extensions[name] = str((ROOT / folder).resolve()) + "/"
    return config


# --- the interactive figures' words ------------------------------------------------------------------

PLOTLY_CALL = re.compile(r"Plotly\.newPlot\(\s*")
_BETWEEN_ARGS = re.compile(r"\s*,?\s*")
# The keys of a Plotly figure whose strings a reader reads: a menu button's label, a trace's name (the legend),
# its hover template, a menu's title update; and "text" under "title" (_reads). A string elsewhere is data.
_TEXT_KEYS = {"label", "name", "hovertemplate", "title.text"}


def _has_words(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{2}", text))


def plotly_calls(html: str) -> list[tuple[int, int, list]]:
    """Each `Plotly.newPlot(id, data, layout, config)` of an output: (start, end, [id, data, layout, config])."""
    decoder = json.JSONDecoder()
    found = []
    for match in PLOTLY_CALL.finditer(html):
        pos, args = match.end(), []
        try:
            for _ in range(4):
                value, pos = decoder.raw_decode(html, pos)
                args.append(value)
                pos = _BETWEEN_ARGS.match(html, pos).end()
        except json.JSONDecodeError:
            continue  # not a call plotly's to_html wrote
        found.append((match.end(), pos, args))
    return found


def _texts(value, translate, parent: str = "") -> object:
    """The figure's words translated in place: titles, axis titles, menu labels, trace names, hovers."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, str) and _reads(parent, key) and _has_words(item):
                out[key] = translate(item)
            else:
                out[key] = _texts(item, translate, key)
        return out
    if isinstance(value, list):
        return [_texts(item, translate, parent) for item in value]
    return value


def _reads(parent: str, key: str) -> bool:
    """Whether value[key] is words a reader reads (a title's text, a label), not data (z, x, y, a cell's text)."""
    if key == "text":
        return parent == "title"  # {"title": {"text": ...}}; a heatmap's "text" is its cells' numbers
    if key == "title":
        return True  # plotly also accepts a bare string title
    return key in _TEXT_KEYS


def figure_words(html: str) -> list[str]:
    """Every string of the page's Plotly figures that a reader reads, in order, once each."""
    words: list[str] = []

    def keep(text: str) -> str:
        if text not in words:
            words.append(text)
        return text

    for _, _, (_, data, layout, _) in plotly_calls(html):
        _texts(data, keep)
        _texts(layout, keep)
    return words


def translate_figures(html: str, translate) -> str:
    """The page's Plotly figures with their words translated; data and configuration unchanged."""
    pieces, last = [], 0
    for start, end, (div, data, layout, config) in plotly_calls(html):
        args = [div, _texts(data, translate), _texts(layout, translate), config]
        pieces += [html[last:start], ", ".join(json.dumps(a, ensure_ascii=False) for a in args), " "]
        last = end
    return "".join(pieces) + html[last:]


# --- Sphinx ------------------------------------------------------------------------------------------


def _raw_html(doctree):
    from docutils import nodes

    return [n for n in doctree.findall(nodes.raw) if n.get("format") == "html" and "Plotly.newPlot" in n.astext()]


def _page_catalog(app, docname: str):
    from sphinx.locale import init as init_locale
    from sphinx.util.i18n import docname_to_domain

    dirs = [str(Path(app.srcdir) / d) for d in app.config.locale_dirs]
    catalog, _ = init_locale(dirs, app.config.language, docname_to_domain(docname, app.config.gettext_compact))
    return catalog


def _doctree_resolved(app, doctree, docname: str) -> None:
    from docutils import nodes

    if app.builder.name == "gettext":  # the figures' words join the page's messages
        from sphinx.builders.gettext import MsgOrigin
        from sphinx.util.i18n import docname_to_domain

        catalog = app.builder.catalogs[docname_to_domain(docname, app.config.gettext_compact)]
        source = str(Path(app.srcdir) / app.env.doc2path(docname, base=False))
        for node in _raw_html(doctree):
            for text in figure_words(node.astext()):
                catalog.add(text, MsgOrigin(source, node.line or 0))
        return
    if language_of(app.config.language) == "en" or app.builder.format != "html":
        return
    catalog = _page_catalog(app, docname)
    for image in doctree.findall(nodes.image):  # outputs' images are made after Sphinx translated the page
        if image.get("alt"):
            image["alt"] = catalog.gettext(image["alt"])
    for node in _raw_html(doctree):
        translated = translate_figures(node.astext(), catalog.gettext)
        node.replace_self(nodes.raw(translated, translated, format="html"))


def glossary_terms() -> list[str]:
    """The Chinese terms of the glossary page (its 中文 column), each alone: 查询（query）、键（key） gives 查询, 键."""
    terms: list[str] = []
    for line in (ROOT / "chapters" / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] != "English" and re.search(r"[\u4e00-\u9fff]", cells[1]):
            for piece in re.split(r"[、，,/（）()\s]+", cells[1]):  # 切分（成多个头） gives 切分 and 成多个头
                if re.fullmatch(r"[\u4e00-\u9fff]{2,}", piece) and piece not in terms:
                    terms.append(piece)
    return terms


def _search_terms(app, config) -> None:
    """Sphinx indexes a Chinese page by jieba's words, and jieba's dictionary lacks the course's own (子空间 is cut
    into 子 and 空间, so a search for it finds nothing): the glossary's terms are given to it as a user dictionary."""
    if language_of(config.language) == "en":
        return
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # not its dictionary's loading times on every build (it sets DEBUG on import)
    words = Path(app.doctreedir) / "search_terms.txt"
    words.parent.mkdir(parents=True, exist_ok=True)
    words.write_text("".join(f"{term} 100000 n\n" for term in glossary_terms()), encoding="utf-8")
    config.html_search_options = {**(config.html_search_options or {}), "dict": str(words)}


def _translate_toc_captions(app, doctree) -> None:
    """The table of contents' part captions ("Words as points"): sphinx-external-toc adds the toctrees after
    Sphinx has translated the page, so they are translated here, before the toctree collector reads them."""
    from sphinx import addnodes

    if language_of(app.config.language) == "en":
        return
    catalog = _page_catalog(app, app.env.docname)
    for toctree in doctree.findall(addnodes.toctree):
        if toctree.get("caption"):
            toctree["caption"] = catalog.gettext(toctree["caption"])
            if toctree.get("rawcaption"):
                toctree["rawcaption"] = toctree["caption"]


def _language_links(app, pagename, templatename, context, doctree) -> None:
    """A link to the same page in the other language, at the top of every page, and hreflang links."""
    if app.builder.format != "html" or not doctree or getattr(app.config, "mhsa_edition", "class") != "class":
        return  # the reader edition is English only: it has no other language to link to
    here = language_of(app.config.language)
    up = "../" * pagename.count("/")
    home = up + ("../" * LANGUAGES[here]["folder"].count("/"))  # the English root, from this page
    links, metatags = [], []
    for code, spec in LANGUAGES.items():
        href = f"{home}{spec['folder']}{pagename}.html"
        metatags.append(f'<link rel="alternate" hreflang="{spec["html"]}" href="{href}" />')
        if code != here:
            links.append(f'<a href="{href}" hreflang="{spec["html"]}" lang="{spec["html"]}">{spec["link"]}</a>')
    context["metatags"] = context.get("metatags", "") + "\n".join(metatags)
    context["body"] = (f'<p class="mhsa-languages">{" · ".join(links)}</p>\n' + context.get("body", ""))


def setup(app):
    app.connect("config-inited", _search_terms)
    app.connect("doctree-read", _translate_toc_captions, priority=100)  # before the toctree collector (500)
    app.connect("doctree-resolved", _doctree_resolved)
    app.connect("html-page-context", _language_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --- the catalogs: complete, current, and with the markup of their English ----------------------------

# What a translation must carry over unchanged from its English: code spans, math, MyST roles and targets,
# link targets, HTML tags and Plotly placeholders, and every number outside them.
_KEPT = re.compile(r"(`+)(?:(?!\1).)+\1|\$\$.+?\$\$|\$[^$]+\$|\{[a-z:-]+\}|\]\([^)]*\)|<[^>]+>|%\{[^}]*\}", re.S)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def kept(text: str) -> tuple[list[str], list[str]]:
    """(the pieces a translation keeps as they are, sorted; the numbers in the rest, sorted)."""
    pieces = sorted(m.group(0) for m in _KEPT.finditer(text))
    rest = _KEPT.sub(" ", text)
    numbers = sorted(n.replace(",", "") for n in _NUMBER.findall(rest))
    return pieces, numbers


def read_catalog(path: Path) -> dict:
    from babel.messages.pofile import read_po

    with open(path, "rb") as f:
        return {m.id: m for m in read_po(f) if m.id}


def catalog_problems(pot_dir: Path, code: str = "zh") -> list[str]:
    """Every message of the extracted templates (pot_dir/**.pot) that the language's catalogs do not translate
    in full: missing, empty, fuzzy (its English changed since it was translated), or with its markup changed."""
    problems = []
    messages = ROOT / LOCALES / LANGUAGES[code]["sphinx"] / "LC_MESSAGES"
    for pot in sorted(pot_dir.rglob("*.pot")):
        docname = pot.relative_to(pot_dir).with_suffix("").as_posix()
        po = messages / f"{docname}.po"
        if not po.exists():
            problems.append(f"{docname}: no catalog {po.relative_to(ROOT)} (run `make locales`)")
            continue
        translated = read_catalog(po)
        for msgid in read_catalog(pot):
            entry = translated.get(msgid)
            short = msgid if len(msgid) < 90 else msgid[:87] + "..."
            if entry is None or not entry.string:
                problems.append(f"{docname}: untranslated: {short!r}")
            elif entry.fuzzy:
                problems.append(f"{docname}: fuzzy (its English changed): {short!r}")
            elif kept(msgid) != kept(entry.string):
                (pieces, numbers), (got_pieces, got_numbers) = kept(msgid), kept(entry.string)
                lost = sorted(set(pieces) ^ set(got_pieces)) or sorted(set(numbers) ^ set(got_numbers))
                problems.append(f"{docname}: the translation does not keep {lost}: {short!r}")
    return problems


# --- the exercises in another language -----------------------------------------------------------------


def catalog(code: str, docname: str) -> dict[str, str]:
    """msgid -> msgstr of one page's catalog; untranslated and fuzzy messages left out."""
    path = ROOT / LOCALES / LANGUAGES[code]["sphinx"] / "LC_MESSAGES" / f"{docname}.po"
    return {msgid: m.string for msgid, m in read_catalog(path).items() if m.string and not m.fuzzy}


def _markdown():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    return MarkdownIt("commonmark").enable("table").use(dollarmath_plugin)


def translate_markdown(source: str, messages: dict[str, str], where: str, missing: list[str]) -> str:
    """A markdown cell with each heading and paragraph replaced by its translation, as Sphinx does for a page.

    A message is what Sphinx extracts: a heading's or a paragraph's text with its line breaks made spaces.
    The markup around it (the `#`s, a list item's marker and indentation) is kept; math blocks are kept whole.
    A message with no translation stays in English and is added to `missing`.
    """
    lines = source.split("\n")
    tokens = _markdown().parse(source)
    replaced: dict[int, tuple[int, str]] = {}  # first line -> (end line, new text)
    for i, token in enumerate(tokens):
        if token.type != "inline" or tokens[i - 1].type not in ("paragraph_open", "heading_open"):
            continue
        start, end = tokens[i - 1].map
        msgid = token.content.replace("\n", " ").strip()
        if msgid not in messages:  # left in English, as Sphinx leaves an untranslated message on a page
            missing.append(f"{where}: {msgid[:70]!r}")
            continue
        first = lines[start]
        head = token.content.split("\n")[0].strip()
        prefix = first[: first.index(head)] if head in first else ""
        replaced[start] = (end, prefix + messages[msgid])
    out, n = [], 0
    while n < len(lines):
        if n in replaced:
            end, text = replaced[n]
            out.append(text)
            n = end
        else:
            out.append(lines[n])
            n += 1
    return "\n".join(out)


def release(code: str, out: Path) -> list[Path]:
    """exercises/ with every markdown cell translated from the catalogs; code cells and metadata unchanged."""
    import nbformat

    written, missing = [], []
    for notebook in sorted((ROOT / "exercises").glob("[0-9][0-9]_*/*.ipynb")):
        rel = notebook.relative_to(ROOT / "exercises")
        docname = f"exercises/{rel.with_suffix('').as_posix()}"
        messages = catalog(code, docname)
        nb = nbformat.read(notebook, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                cell.source = translate_markdown(cell.source, messages, f"{docname}, cell {index}", missing)
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        text = nbformat.writes(nb) + "\n"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            tmp = target.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
        written.append(target)
    if missing:
        print(f"mhsa_languages: {len(missing)} messages of the exercises have no {code} translation yet and stay in "
              "English (tests/test_course/test_languages.py lists them), e.g. " + missing[0], file=sys.stderr)
    return written


# --- the Makefile's steps ------------------------------------------------------------------------------


def write_config(code: str, out: Path) -> None:
    import yaml

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Generated by _ext/mhsa_languages.py from _config.yml and "
                   f"{overlay(code).relative_to(ROOT)}: do not edit.\n"
                   + yaml.safe_dump(merged_config(code), allow_unicode=True, sort_keys=False), encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("config", "exercises", "check") or argv[1] not in LANGUAGES:
        print(__doc__.split("Run as a script")[1], file=sys.stderr)
        return 2
    what, code, out = argv
    if what == "config":
        write_config(code, Path(out))
    elif what == "check":
        problems = catalog_problems(Path(out), code)
        print("\n".join(problems) or "every message is translated")
        return 1 if problems else 0
    else:
        for path in release(code, Path(out)):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
