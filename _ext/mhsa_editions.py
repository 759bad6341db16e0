"""The book's two editions from one source: a Sphinx extension (`_config.yml`: sphinx.local_extensions).

* The **class edition** (the default) teaches every learner function through its math, its shapes and
  walk-throughs on small tensors, and prints none of them: the chapters never include a learner
  function's code, and this extension adds nothing.
* The **reader edition** (`MHSA_EDITION=reader`, which `make book EDITION=reader` sets) ends each
  chapter with a section "The reference code": every function its exercise asks the learner to write,
  included from `mhsa_ref` with `literalinclude :pyobject:` (the library stays the only copy), each
  followed by the helpers of its own module that it calls (`scaled_dot_product_attention` calls
  `attention_weights`). The list is read from the exercises (`grader.kit.exercises`: the solution
  cells of `solutions/*/*.ipynb`), so a function added to an exercise is printed without anyone
  remembering to; one that the reference module lacks is a build warning (an error under -W).

The edition is also a Sphinx tag (`class` or `reader`), for an `{only}` block in a chapter, and both
editions share the class build's execution cache (`_build/.jupyter_cache`), so the reader build
runs no notebook that the class build has already run.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

EDITIONS = ("class", "reader")
ENV_VAR = "MHSA_EDITION"
SECTION_LABEL = "reference-code-{}"  # a MyST target: (reference-code-softmax)=


@dataclass(frozen=True)
class Listing:
    """One object of the reference code: a learner function (or class), or a helper that one calls."""

    name: str  # e.g. "scaled_dot_product_attention"
    module: str  # e.g. "mhsa_ref.attention"
    obj: object
    helper_of: str | None = None  # the learner function that calls this helper; None for a learner function

    @property
    def path(self) -> str:
        """The module's file, relative to the repository root: mhsa_ref/attention.py."""
        return self.module.replace(".", "/") + ".py"


@dataclass(frozen=True)
class Exercise:
    name: str  # "04_attention"
    listings: tuple[Listing, ...]  # its learner functions, each followed by its helpers
    missing: tuple[str, ...]  # learner names that the reference module does not define


def _called_names(obj) -> set[str]:
    """Every bare name called in obj's source: `attention_weights(q, k, mask)` gives attention_weights."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    return {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


def _helpers(obj, learner: set[str], seen: set[str]) -> list[tuple[str, object]]:
    """The functions of obj's own module that obj calls (and that they call), learner functions excepted."""
    module = inspect.getmodule(obj)
    found = []
    for name in sorted(_called_names(obj)):
        helper = vars(module).get(name)
        if (name in learner or name in seen or not inspect.isfunction(helper)
                or helper.__module__ != module.__name__):
            continue
        seen.add(name)
        found.append((name, helper))
        found += _helpers(helper, learner, seen)
    return found


def exercises(root: Path) -> list[Exercise]:
    """Each exercise with the reference objects of what its learner writes, in the order of its solution cells.

    The reference module of exercise `NN_name` is `mhsa_ref.name`; a name it does not define is looked up in
    `mhsa_ref` itself (exercise 08 asks again for chapter 07's `multi_head_self_attention`). Names that are not
    functions or classes (answer variables) are skipped.
    """
    import mhsa_ref
    from grader import kit

    found, every = [], kit.exercises(root)
    learner = {name for ex in every for name in ex.learner_names}  # a learner function is never a helper
    for ex in every:
        module = importlib.import_module(f"mhsa_ref.{ex.name.split('_', 1)[1]}")
        listings, missing, seen = [], [], set()  # a helper of two functions is printed once
        for name in dict.fromkeys(ex.learner_names):
            obj = getattr(module, name, None) or getattr(mhsa_ref, name, None)
            if obj is None:
                if not name.startswith("answer_"):
                    missing.append(name)
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            listings.append(Listing(name, obj.__module__, obj))
            listings += [Listing(h, fn.__module__, fn, helper_of=name) for h, fn in _helpers(obj, learner, seen)]
        found.append(Exercise(ex.name, tuple(listings), tuple(missing)))
    return found


def _home(all_exercises: list[Exercise]) -> dict[tuple[str, str], str]:
    """(module, name) -> the exercise whose chapter prints it: the one of its own module, else the first that lists it."""
    home: dict[tuple[str, str], str] = {}
    for ex in all_exercises:
        own = f"mhsa_ref.{ex.name.split('_', 1)[1]}"
        for item in ex.listings:
            if item.module == own:
                home[(item.module, item.name)] = ex.name
            else:
                home.setdefault((item.module, item.name), ex.name)
    return home


def reference_section(ex: Exercise, home: dict[tuple[str, str], str]) -> str:
    """The MyST text of the reader edition's last section of chapter `ex.name`."""
    number = ex.name.split("_", 1)[0]
    lines = [
        "",
        f"({SECTION_LABEL.format(ex.name)})=",
        "## The reference code",
        "",
        f"*Reader edition.* The reference implementation of each function that exercise {number} asks for,",
        "as `mhsa_ref` defines it, with the helpers of its module that it calls. The class edition of this",
        "book teaches these functions without printing them.",
        "",
    ]
    for item in ex.listings:
        where = home[(item.module, item.name)]
        if where != ex.name:  # printed once, in the chapter of its own module; its helpers go with it
            if not item.helper_of:
                lines += [f"`{item.name}` is printed with the reference code of chapter {where.split('_', 1)[0]}:",
                          f"{{ref}}`{item.name} <{SECTION_LABEL.format(item.name)}>`.", ""]
            continue
        title = f"`{item.name}`" + (f", called by `{item.helper_of}`" if item.helper_of else "")
        lines += [f"({SECTION_LABEL.format(item.name)})=", f"### {title}", "",
                  f"```{{literalinclude}} /{item.path}", ":language: python", f":pyobject: {item.name}", "```", ""]
    return "\n".join(lines)


def edition() -> str:
    value = os.environ.get(ENV_VAR, "class") or "class"
    if value not in EDITIONS:
        raise ValueError(f"{ENV_VAR}={value!r}: the book has the editions {', '.join(EDITIONS)}")
    return value


# --- Sphinx ----------------------------------------------------------------------------------------

CHAPTER = re.compile(r"chapters/(\d\d_\w+)")


def _config_inited(app, config) -> None:
    app.tags.add(config.mhsa_edition)
    if not config.nb_execution_cache_path:  # one cache for both editions: the reader build reruns nothing
        config.nb_execution_cache_path = str(Path(app.srcdir) / "_build" / ".jupyter_cache")


def _builder_inited(app) -> None:
    from sphinx.util import logging

    sections: dict[str, str] = {}
    if app.config.mhsa_edition == "reader":
        found = exercises(Path(app.srcdir))
        home = _home(found)
        chapters = {m.group(1) for m in map(CHAPTER.fullmatch, app.project.docnames) if m}
        log = logging.getLogger(__name__)
        for ex in found:
            for name in ex.missing:
                log.warning(f"exercise {ex.name} asks for {name}, which mhsa_ref does not define: the reader "
                            "edition cannot print its reference code", type="mhsa", subtype="reference")
            if ex.name not in chapters:
                log.warning(f"exercise {ex.name} has no chapter chapters/{ex.name} to print its reference code in",
                            type="mhsa", subtype="reference")
            sections[ex.name] = reference_section(ex, home)
    # A chapter whose section changed (an exercise gained a function) is read again, even if its file did not.
    old = getattr(app.env, "mhsa_sections", {})
    app.env.mhsa_outdated = {f"chapters/{name}" for name in sections.keys() | old.keys()
                             if sections.get(name) != old.get(name)}
    app.env.mhsa_sections = sections


def _outdated(app, env, added, changed, removed) -> list[str]:
    return sorted(d for d in getattr(env, "mhsa_outdated", ()) if d in env.found_docs and d not in added | changed)


def _source_read(app, docname: str, source: list[str]) -> None:
    match = CHAPTER.fullmatch(docname)
    section = match and app.env.mhsa_sections.get(match.group(1))
    if section:
        source[0] = source[0].rstrip("\n") + "\n" + section


def setup(app):
    app.add_config_value("mhsa_edition", edition(), "env", [str])
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    app.connect("env-get-outdated", _outdated)
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
