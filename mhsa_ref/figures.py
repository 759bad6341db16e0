"""The chapters' figures: static ones with matplotlib, interactive ones with Plotly.

An interactive figure is a Plotly figure wrapped in `Interactive`: the static site gets HTML that
calls `Plotly.newPlot` in the reader's browser, with no kernel. plotly.js is not fetched from a CDN: this module is also a Sphinx extension
(listed in _config.yml) that copies `plotly.min.js` from the installed `plotly` package into the
site and loads it on the pages that have a Plotly figure.

Colours: heatmaps use viridis/cividis and points the Okabe–Ito palette, both readable with the
common forms of colour blindness; every heatmap also shows or hovers its values.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor
from tqdm.std import tqdm as tqdm_std

# Okabe & Ito (2008), "Color Universal Design": eight colours distinguishable by colour-blind readers.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
HEATMAP = "cividis"


# --- 2-D views --------------------------------------------------------------------------------------------


def pca_basis(vectors: Tensor) -> tuple[Tensor, Tensor]:
    """The mean (D,) and the two main directions (D, 2) of the rows of `vectors` (N, D).

    Signs are fixed (each direction's largest component is positive) so a figure is the same on
    every run.
    """
    x = vectors.detach().to(torch.float64)
    mean = x.mean(0)  # (D,)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)  # vh (min(N, D), D)
    basis = vh[:2].T.clone()  # (D, 2)
    if basis.size(1) < 2:  # a single point or a 1-D space: pad with a zero direction
        basis = torch.cat([basis, torch.zeros(basis.size(0), 2 - basis.size(1), dtype=basis.dtype)], 1)
    flip = basis.gather(0, basis.abs().argmax(0, keepdim=True)).sign()  # (1, 2)
    return mean, basis * torch.where(flip == 0, 1.0, flip)


def project_2d(vectors: Tensor, basis: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """(N, D) -> (N, 2) coordinates in the PCA plane of `vectors` (or in a given `pca_basis`)."""
    mean, directions = basis if basis is not None else pca_basis(vectors)
    return (vectors.detach().to(torch.float64) - mean) @ directions  # (N, 2)


# --- static figures (matplotlib) -------------------------------------------------------------------------


def heatmap(ax, matrix: Tensor, row_labels: Sequence[str], col_labels: Sequence[str] | None = None, *,
            fmt: str = "{:.2f}", vmin: float | None = None, vmax: float | None = None, cmap: str = HEATMAP):
    """Draw `matrix` (R, C) as a heatmap with every value written in its cell; returns the image."""
    m = matrix.detach().to(torch.float64).cpu()
    col_labels = row_labels if col_labels is None else col_labels
    image = ax.imshow(m.numpy(), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=45, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels)
    lo, hi = (vmin if vmin is not None else float(m.min())), (vmax if vmax is not None else float(m.max()))
    for i in range(m.size(0)):
        for j in range(m.size(1)):
            value = float(m[i, j])
            dark_cell = (value - lo) / (hi - lo or 1) < 0.5  # the low end of the colour map is dark
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=8, color="white" if dark_cell else "black")
    return image


def scatter_words(ax, points: Tensor, words: Sequence[str], *, colours: Sequence[str] | None = None,
                  size: float = 40, annotate: bool = True) -> None:
    """Points (N, 2) with their words written beside them."""
    p = points.detach().to(torch.float64).cpu()
    colours = colours or [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(words))]
    ax.scatter(p[:, 0], p[:, 1], s=size, c=colours, edgecolors="black", linewidths=0.4, zorder=3)
    if annotate:
        for (x, y), word in zip(p.tolist(), words):
            ax.annotate(word, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=9)


def running_figure(panels: Sequence[tuple[str, Tensor]], tokens: Sequence[str]):
    """The course's running figure: the same tokens as points under each representation.

    Args:
        panels: (title, vectors (T, D)) per representation, in the order of the course.
        tokens: the T words, e.g. ["I", "have", "a", "dream"].
    Returns:
        the matplotlib figure: one panel per representation, each the PCA plane of its T points
        (equidistant points, as one-hot vectors are, are drawn on a circle instead), a token keeping
        its colour across panels.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.4), squeeze=False)
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(tokens))]
    for ax, (title, vectors) in zip(axes[0], panels):
        if _equidistant(vectors):
            # No plane is better than another (PCA is degenerate); a regular polygon keeps every
            # point equivalent, which is the one true thing a flat picture can say about them.
            angle = torch.arange(len(tokens), dtype=torch.float64) * 2 * torch.pi / len(tokens)
            points = torch.stack([angle.sin(), angle.cos()], 1)  # (T, 2)
            how = "all equidistant"
        else:
            points = project_2d(vectors)  # (T, 2)
            how = "PCA plane"
        scatter_words(ax, points, tokens, colours=colours, size=70)
        span = float(points.abs().max()) or 1.0
        ax.set(xlim=(-1.35 * span, 1.35 * span), ylim=(-1.35 * span, 1.35 * span), aspect="equal",
               title=f"{title}\n(D = {vectors.size(-1)}, {how})")
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def _equidistant(vectors: Tensor) -> bool:
    """True when every pair of the rows of (N, D) `vectors` (N ≥ 3) is the same distance apart."""
    if vectors.size(0) < 3:
        return False
    d = torch.pdist(vectors.detach().to(torch.float64))
    return bool(torch.allclose(d, d[0].expand_as(d), rtol=1e-6, atol=0) and d[0] > 0)


# --- interactive figures (Plotly, drawn in the browser) ------------------------------------------------


class Interactive:
    """A Plotly figure drawn in the reader's browser by the site's local plotly.js, with no kernel.

    Its HTML is a div and a call to `Plotly.newPlot`; the site loads `_static/plotly.min.js` on
    every page that has such a div (see `setup` below). Where plotly.js is absent (a notebook
    frontend), the div says where the figure can be explored instead of staying blank.
    """

    def __init__(self, figure, *, height: int | None = None) -> None:
        self.figure = figure
        if height:
            figure.update_layout(height=height)

    def _repr_html_(self) -> str:
        html = self.figure.to_html(full_html=False, include_plotlyjs=False,
                                   config={"displaylogo": False, "responsive": True})
        title = self.figure.layout.title.text or "interactive figure"
        fallback = (f'<p class="mhsa-no-plotly">{title}: this interactive figure is drawn by the course site '
                    f"(its plotly.js is not loaded here).</p>")
        return (f'<div class="mhsa-interactive">{html}<script>if (!window.Plotly) {{ '
                f"document.currentScript.insertAdjacentHTML('beforebegin', {fallback!r}); }}</script></div>")


def interactive_heatmap(matrix: Tensor, row_labels: Sequence[str], col_labels: Sequence[str] | None = None, *,
                        title: str = "", zmin: float | None = None, zmax: float | None = None,
                        value_name: str = "value") -> Interactive:
    """A heatmap whose cells show their values on hover (and as text when small enough)."""
    import plotly.graph_objects as go

    m = matrix.detach().to(torch.float64).cpu().tolist()
    col_labels = list(row_labels if col_labels is None else col_labels)
    small = len(row_labels) * len(col_labels) <= 144
    trace = go.Heatmap(
        z=m, x=col_labels, y=list(row_labels), colorscale=HEATMAP.capitalize(), zmin=zmin, zmax=zmax,
        text=[[f"{v:.2f}" for v in row] for row in m] if small else None,
        texttemplate="%{text}" if small else None,
        hovertemplate=f"row %{{y}}<br>column %{{x}}<br>{value_name} %{{z:.4f}}<extra></extra>",
    )
    fig = go.Figure(trace)
    fig.update_layout(title=title, yaxis={"autorange": "reversed"}, margin={"l": 60, "r": 20, "t": 50, "b": 60})
    return Interactive(fig, height=420)


def interactive_heatmaps(views: dict[str, Tensor], labels: Sequence[str], *, title: str = "",
                         zmin: float = 0.0, zmax: float = 1.0, value_name: str = "weight") -> Interactive:
    """Square heatmaps over the same labels with a menu that switches between them; values on hover and in cells."""
    import plotly.graph_objects as go

    mats = {name: m.detach().to(torch.float64).cpu().tolist() for name, m in views.items()}
    text = {name: [[f"{v:.2f}" for v in row] for row in m] for name, m in mats.items()}
    first = next(iter(mats))
    fig = go.Figure(go.Heatmap(
        z=mats[first], x=list(labels), y=list(labels), text=text[first], texttemplate="%{text}",
        colorscale=HEATMAP.capitalize(), zmin=zmin, zmax=zmax,
        hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{value_name} %{{z:.4f}}<extra></extra>",
    ))
    buttons = [{"label": name, "method": "update",
                "args": [{"z": [mats[name]], "text": [text[name]]}, {"title.text": f"{title}: {name}" if title else name}]}
               for name in mats]
    fig.update_layout(title=f"{title}: {first}" if title else first, yaxis={"autorange": "reversed"},
                      xaxis={"title": "key"}, margin={"l": 60, "r": 20, "t": 90, "b": 60},
                      updatemenus=[{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left",
                                    "y": 1.15, "yanchor": "top"}])
    return Interactive(fig, height=460)


def interactive_neighbours(points: Tensor, words: Sequence[str], groups: Sequence[str],
                           neighbours: dict[str, list[tuple[str, float]]], *, title: str = "") -> Interactive:
    """A 2-D map of words with a menu: choosing a word highlights it and its nearest neighbours.

    Args:
        points: (N, 2) coordinates of the N words.
        words: the N words; groups: a class per word (colour, legend).
        neighbours: for each word in the menu, its neighbours as (word, cosine), best first.
    """
    import plotly.graph_objects as go

    p = points.detach().to(torch.float64).cpu()
    index = {w: i for i, w in enumerate(words)}
    fig = go.Figure()
    kinds = list(dict.fromkeys(groups))
    for n, kind in enumerate(kinds):
        rows = [i for i, g in enumerate(groups) if g == kind]
        fig.add_trace(go.Scatter(
            x=p[rows, 0].tolist(), y=p[rows, 1].tolist(), mode="markers+text", name=kind,
            text=[words[i] for i in rows], textposition="top center", textfont={"size": 10},
            marker={"size": 9, "color": OKABE_ITO[n % len(OKABE_ITO)], "line": {"width": 0.5, "color": "black"}},
            hovertemplate="%{text}<extra>" + kind + "</extra>",
        ))
    highlight = len(kinds)  # one extra trace: the chosen word and its neighbours
    first = next(iter(neighbours))

    def chosen(word: str) -> dict:
        # Neighbours that are not on the map (e.g. "the") are named in the chosen word's label.
        listed = "<br>".join(f"{w}: cosine {c:.3f}" for w, c in neighbours[word])
        shown = [(w, f"{w}: cosine {c:.3f}") for w, c in neighbours[word] if w in index]
        rows = [index[word]] + [index[w] for w, _ in shown]
        labels = [f"<b>{word}</b>, nearest words:<br>{listed}"] + [label for _, label in shown]
        return {"x": [p[rows, 0].tolist()], "y": [p[rows, 1].tolist()], "customdata": [labels]}

    start = chosen(first)
    fig.add_trace(go.Scatter(
        x=start["x"][0], y=start["y"][0], customdata=start["customdata"][0], mode="markers", name="chosen + neighbours",
        marker={"size": 22, "color": "rgba(0,0,0,0)", "line": {"width": 2.5, "color": "#D55E00"}},
        hovertemplate="%{customdata}<extra></extra>",
    ))
    buttons = [{"label": w, "method": "restyle", "args": [chosen(w), [highlight]]} for w in neighbours]
    fig.update_layout(
        title=title, margin={"l": 40, "r": 20, "t": 90, "b": 40},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left", "y": 1.13, "yanchor": "top",
                      "showactive": True}],
        annotations=[{"text": "word:", "x": -0.06, "xref": "paper", "y": 1.11, "yref": "paper", "showarrow": False}],
        legend={"orientation": "h", "y": -0.12},
    )
    return Interactive(fig, height=560)


def interactive_points(views: dict[str, tuple[Tensor, list[str], list[str]]], *, title: str = "") -> Interactive:
    """Point clouds with a menu that switches between views; each point shows its label on hover.

    Args:
        views: name -> (points (N, 2), hover label per point, group per point).
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    groups = list(dict.fromkeys(g for _, _, gs in views.values() for g in gs))
    traces_of: dict[str, list[int]] = {}
    for view, (points, labels, gs) in views.items():
        p = points.detach().to(torch.float64).cpu()
        traces_of[view] = []
        for group in dict.fromkeys(gs):
            rows = [i for i, g in enumerate(gs) if g == group]
            traces_of[view].append(len(fig.data))
            fig.add_trace(go.Scatter(
                x=p[rows, 0].tolist(), y=p[rows, 1].tolist(), mode="markers", name=group,
                customdata=[labels[i] for i in rows], hovertemplate="%{customdata}<extra>" + group + "</extra>",
                marker={"size": 8, "color": OKABE_ITO[groups.index(group) % len(OKABE_ITO)],
                        "line": {"width": 0.4, "color": "black"}},
                visible=view == next(iter(views)),
            ))
    total = len(fig.data)
    buttons = [{"label": view, "method": "update",
                "args": [{"visible": [i in traces for i in range(total)]}, {"title.text": f"{title}: {view}" if title else view}]}
               for view, traces in traces_of.items()]
    fig.update_layout(title=f"{title}: {next(iter(views))}" if title else next(iter(views)),
                      margin={"l": 40, "r": 20, "t": 90, "b": 40}, legend={"orientation": "h", "y": -0.12},
                      updatemenus=[{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left",
                                    "y": 1.13, "yanchor": "top"}])
    return Interactive(fig, height=520)


# --- progress on a built page -------------------------------------------------------------------------


class PageProgress(tqdm_std):
    """A tqdm text bar that prints only its final state, once, when it closes.

    A built page cannot animate: a plain text bar would leave one line per update in the page.
    JupyterLab, where a bar can move, uses the trainers' default (`tqdm.auto`) instead.
    """

    def __init__(self, *args, **kwargs) -> None:
        self._sink = io.StringIO()
        kwargs.setdefault("ascii", False)  # block characters, as in a terminal
        super().__init__(*args, file=self._sink, **kwargs)

    def close(self) -> None:
        if self.disable:
            return
        super().close()
        final = self._sink.getvalue().replace("\n", "\r").split("\r")
        print(next((line for line in reversed(final) if line.strip()), ""))


# --- Sphinx: serve plotly.js from the installed package ----------------------------------------------

PLOTLY_JS = "plotly.min.js"


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / PLOTLY_JS


def _add_plotly_where_needed(app, pagename, templatename, context, doctree) -> None:
    if "plotly-graph-div" in context.get("body", ""):
        app.add_js_file(PLOTLY_JS, priority=300)  # before the inline calls of the page body run


def _copy_plotly(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / PLOTLY_JS
        source = _plotly_js()
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, target)


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    """Remove Thebe's scripts, which jupyter-book adds even with `launch_buttons.thebe: false`.

    The site has no live kernels; Thebe's inline configuration is also added twice, and the second
    copy is a SyntaxError on every page (`THEBE_JS_URL` declared again), and it names a CDN.
    """
    files = context.get("script_files")
    if files:  # in place: Sphinx appends scripts added later for this page (plotly.js) to the same list
        files[:] = [f for f in files if "thebe" not in (str(f) + str(getattr(f, "attributes", {}).get("body", ""))).lower()]


def setup(app):
    """Sphinx extension: pages with a Plotly figure load `_static/plotly.min.js`, copied from plotly."""
    app.connect("html-page-context", _drop_thebe)
    app.connect("html-page-context", _add_plotly_where_needed)
    app.connect("build-finished", _copy_plotly)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
