"""The chapters' figures: static ones with matplotlib, interactive ones with Plotly.

An interactive figure is a Plotly figure wrapped in `Interactive`: the static site gets HTML that
calls `Plotly.newPlot` in the reader's browser, with no kernel. plotly.js is not fetched from a CDN: this module is also a Sphinx extension
(listed in _config.yml) that copies `plotly.min.js` from the installed `plotly` package into the
site and loads it on the pages that have a Plotly figure.

Colours: heatmaps use viridis/cividis and points the Okabe–Ito palette, both readable with the
common forms of colour blindness; every heatmap also shows or hovers its values.
"""

from __future__ import annotations

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


def running_figure(panels: Sequence[tuple[str, Tensor]], tokens: Sequence[str], *, same_plane: Sequence[str] = ()):
    """The course's running figure: the same tokens as points under each representation.

    Args:
        panels: (title, vectors (T, D)) per representation, in the order of the course.
        tokens: the T words, e.g. ["I", "have", "a", "dream"].
        same_plane: titles of panels whose vectors live in one space (the same D coordinates, e.g. X
            and the Z that attention made from it): all are drawn in the PCA plane of the first of
            them, on one scale, so that a word's move from panel to panel is its move in that space.
    Returns:
        the matplotlib figure: one panel per representation, each the PCA plane of its T points
        (equidistant points, as one-hot vectors are, are drawn on a circle instead), a token keeping
        its colour across panels.
    """
    import matplotlib.pyplot as plt

    titles = [title for title, _ in panels]
    unknown = [t for t in same_plane if t not in titles]
    if unknown:
        raise ValueError(f"same_plane names {unknown}, which are not panel titles {titles}")
    shared = [vectors for title, vectors in panels if title in same_plane]
    if len({v.shape[-1] for v in shared}) > 1:
        raise ValueError(f"the same_plane panels must share their width D; got {[v.shape[-1] for v in shared]}")
    basis = pca_basis(shared[0]) if shared else None
    shared_span = max(float(project_2d(v, basis).abs().max()) for v in shared) if shared else 0.0
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.4), squeeze=False)
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(tokens))]
    for ax, (title, vectors) in zip(axes[0], panels):
        if title in same_plane:
            points = project_2d(vectors, basis)  # (T, 2)
            how = f"plane of {same_plane[0]}" if title != same_plane[0] else "PCA plane, shared"
            span = shared_span
        elif _equidistant(vectors):
            # No plane is better than another (PCA is degenerate); a regular polygon keeps every
            # point equivalent, which is the one true thing a flat picture can say about them.
            angle = torch.arange(len(tokens), dtype=torch.float64) * 2 * torch.pi / len(tokens)
            points = torch.stack([angle.sin(), angle.cos()], 1)  # (T, 2)
            how, span = "all equidistant", 1.0
        else:
            points = project_2d(vectors)  # (T, 2)
            how, span = "PCA plane", float(points.abs().max())
        scatter_words(ax, points, tokens, colours=colours, size=70)
        span = span or 1.0
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


# --- diagrams: memory order, the five steps, tiling ------------------------------------------------------


def memory_rows(rows: Sequence[tuple[str, Sequence[int]]], describe, *, colour_by: str = "head"):
    """Rows of numbered boxes: the order in which a tensor's numbers sit in memory, or are read.

    Args:
        rows: (title, the numbers in the order that row shows them) per row, or (title, numbers,
            group) to mark every `group` boxes as one head ("head 0", "head 1", … under them); a
            number is its position in memory.
        describe: number -> (colour index, short label such as "h1 t0"), the same in every row.
        colour_by: what the colour stands for, said in each row's title.
    Returns:
        the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    width = max(len(row[1]) for row in rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(max(6.0, 0.8 * width), 1.3 * len(rows)), squeeze=False)
    for ax, (title, values, *group) in zip(axes[:, 0], rows):
        if group:
            for j, start in enumerate(range(0, len(values), group[0])):
                end = min(start + group[0], len(values))
                ax.plot([start + 0.05, end - 0.1], [-0.12, -0.12], color="black", lw=1.2)
                ax.text((start + end) / 2 - 0.05, -0.3, f"head {j}", ha="center", va="center", fontsize=9)
        for pos, value in enumerate(values):
            colour, label = describe(value)
            ax.add_patch(plt.Rectangle((pos, 0), 0.95, 0.95, color=OKABE_ITO[colour % len(OKABE_ITO)], alpha=0.85))
            ax.text(pos + 0.47, 0.62, str(value), ha="center", va="center", fontsize=11, color="black")
            ax.text(pos + 0.47, 0.22, label, ha="center", va="center", fontsize=7, color="black")
        ax.set(xlim=(-0.1, width), ylim=(-0.45 if group else -0.05, 1), xticks=[], yticks=[],
               title=f"{title} (colour: {colour_by})")
        ax.set_frame_on(False)
    fig.tight_layout()
    return fig


def five_step_flow(batch: int = 3, seq_len: int = 4, d_model: int = 16, num_heads: int = 8):
    """The lecture note's five steps of a multi-head self-attention layer, each tensor with its shape.

    X → (1) project with W^Q, W^K, W^V → (2) split into heads → (3) attention in every head →
    (4) concatenate → (5) mix with W^O → Z′. The shapes are computed from the sizes given.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    if d_model % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
    d_k = d_model // num_heads
    flat, heads = f"[{batch}, {seq_len}, {d_model}]", f"[{batch}, {num_heads}, {seq_len}, {d_k}]"
    tensors = [("X", flat, "the words as points"), ("Q, K, V", f"3 × {flat}", "three views of X"),
               ("Q, K, V by head", f"3 × {heads}", f"{num_heads} planes of width {d_k}"),
               ("Z by head", heads, "each head's new points"), ("Concat(Z)", flat, "heads side by side"),
               ("Z′", flat, "the layer's output")]
    steps = [f"① × W^Q, W^K, W^V\n({d_model} × {d_model} each)", "② split_heads\nview, transpose(1, 2)",
             f"③ softmax(QKᵀ/√{d_k}) V\nin every head", "④ merge_heads\ntranspose, reshape",
             f"⑤ × W^O\n({d_model} × {d_model})"]
    fig, ax = plt.subplots(figsize=(13, 2.6))
    box_w, gap, y = 1.55, 0.75, 0.9
    for i, (name, shape, what) in enumerate(tensors):
        x = i * (box_w + gap)
        colour = OKABE_ITO[1] if "head" in name else OKABE_ITO[2] if i in (0, 5) else OKABE_ITO[0]
        ax.add_patch(FancyBboxPatch((x, y), box_w, 1.1, boxstyle="round,pad=0.04", fc=colour, ec="black", alpha=0.35))
        ax.text(x + box_w / 2, y + 0.8, name, ha="center", va="center", fontsize=11, weight="bold")
        ax.text(x + box_w / 2, y + 0.5, shape, ha="center", va="center", fontsize=9, family="monospace")
        ax.text(x + box_w / 2, y + 0.2, what, ha="center", va="center", fontsize=8, color="#333333")
        if i < len(steps):
            ax.annotate("", (x + box_w + gap - 0.05, y + 0.55), (x + box_w + 0.05, y + 0.55),
                        arrowprops={"arrowstyle": "->", "lw": 1.4})
            ax.text(x + box_w + gap / 2, y - 0.15, steps[i], ha="center", va="top", fontsize=8)
    ax.set(xlim=(-0.2, len(tensors) * (box_w + gap) - gap + 0.2), ylim=(0.25, 2.1))
    ax.axis("off")
    fig.tight_layout()
    return fig


def flash_tiling(maxima: Tensor, sums: Tensor, *, seq_len: int, block_size: int, query: int = 0):
    """FlashAttention's loop, sketched: the (T, S) scores cut into tiles, and one query's running state.

    Args:
        maxima, sums: (T, n_blocks), the running maximum and denominator after each key block (as
            `cost_and_gpu.tiled_attention` returns them for one head of one sentence).
        seq_len: T; block_size: keys per block (the tiles are block_size × block_size).
        query: the row whose running state the right panel draws.
    """
    import matplotlib.pyplot as plt

    n_blocks = maxima.size(-1)
    if maxima.shape != sums.shape or maxima.size(0) != seq_len:
        raise ValueError(f"maxima and sums must both be (T={seq_len}, n_blocks); got {tuple(maxima.shape)}, {tuple(sums.shape)}")
    size = n_blocks * block_size
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1, 1.25]})
    q_tile = query // block_size
    for r in range(-(-seq_len // block_size)):
        for c in range(n_blocks):
            on_path = r == q_tile
            left.add_patch(plt.Rectangle((c * block_size, r * block_size), block_size, block_size,
                                         fc=OKABE_ITO[1] if on_path else "white", alpha=0.5 if on_path else 1,
                                         ec="black", lw=1.2, ls="-" if on_path else "--"))
            if on_path:
                left.text((c + 0.5) * block_size, (r + 0.5) * block_size, f"step {c + 1}", ha="center", va="center", fontsize=9)
    left.annotate("", ((n_blocks - 0.15) * block_size, (q_tile + 0.85) * block_size),
                  (0.15 * block_size, (q_tile + 0.85) * block_size),
                  arrowprops={"arrowstyle": "->", "lw": 1.5, "color": OKABE_ITO[5]})
    left.set(xlim=(0, size), ylim=(seq_len, 0), aspect="equal", xlabel="keys (S), one block per step",
             ylabel="queries (T)", title="one tile of queries walks over the key tiles")
    steps = range(1, n_blocks + 1)
    right.plot(steps, maxima[query].tolist(), "o-", color=OKABE_ITO[5], label="running maximum m")
    right.plot(steps, sums[query].tolist(), "s-", color=OKABE_ITO[4], label="running denominator ℓ")
    right.axhline(float(sums[query, -1]), color="black", ls=":", lw=1, label="ℓ of the whole row (softmax's own)")
    right.set(xlabel="key blocks seen", xticks=list(steps), title=f"query {query}: the state carried along its row")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def learning_curves(curves: dict[str, list[list[tuple[int, float]]]], *, ylabel: str = "held-out accuracy",
                    title: str = ""):
    """One line per configuration: the mean over seeds of (step, value) curves, with the min–max band shaded.

    Args:
        curves: a label (e.g. "h = 8") -> one curve per seed, each a list of (step, value), same steps.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2))
    for n, (label, runs) in enumerate(curves.items()):
        if not runs or any([s for s, _ in r] != [s for s, _ in runs[0]] for r in runs):
            raise ValueError(f"{label}: every seed's curve must have the same steps")
        steps = [s for s, _ in runs[0]]
        values = torch.tensor([[v for _, v in r] for r in runs], dtype=torch.float64)  # (seeds, points)
        colour = OKABE_ITO[n % len(OKABE_ITO)]
        ax.plot(steps, values.mean(0), color=colour, lw=2, label=f"{label} ({len(runs)} seeds)")
        ax.fill_between(steps, values.min(0).values, values.max(0).values, color=colour, alpha=0.18, lw=0)
    ax.set(xlabel="training step", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def centroid_plane(train_points: Tensor, train_senses: Tensor, points: Tensor) -> Tensor:
    """(N, 2): `points` on the axis through the two senses' training centroids (scaled so that they sit at −1 and
    +1) and on the direction of largest spread orthogonal to it (zero when there is none).

    Nearest-centroid with two senses decides along that axis alone, at 0 (|x − a|² − |x − b|² is linear in x's
    projection on b − a), so this plane shows exactly what `trained_heads.sense_separation` measures.
    """
    a, b = (train_points[train_senses == k].double().mean(0) for k in (0, 1))
    middle, half = (a + b) / 2, (b - a) / 2
    scale = half.norm()
    if scale < 1e-12:  # one point for both senses (one-hot, word2vec): no axis at all
        return torch.zeros(len(points), 2, dtype=torch.float64)
    centred = points.double() - middle
    along = centred @ half / scale**2  # −1 at the first sense's centroid, +1 at the second's
    rest = centred - torch.outer(along, half)
    if rest.abs().max() < 1e-9:
        return torch.stack([along, torch.zeros_like(along)], 1)
    direction = torch.linalg.svd(rest - rest.mean(0), full_matrices=False).Vh[0]
    return torch.stack([along, rest @ direction / scale], 1)


def ladder(panels: Sequence[tuple[str, Tensor, Tensor, Tensor, Tensor, str]], senses: Sequence[str]):
    """The course's ladder: each representation's held-out points of one word, drawn as the score sees them.

    Each panel's x axis runs through the two senses' training centroids (at −1 and +1); nearest-centroid
    gives every point left of 0 the first sense and every point right of it the second, so the score is the
    share of points on their own side of the dashed line. The y axis is the largest spread left over.

    Args:
        panels: (name, training points (N, d), their sense ids (N,), held-out points (M, d), their ids (M,),
            a note such as the score) per representation, in the course's order.
        senses: the name of each sense id, for the legend.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.1 * len(panels), 3.7), squeeze=False)
    for ax, (name, train, train_ids, points, ids, note) in zip(axes[0], panels):
        xy = centroid_plane(train, train_ids, points)
        same = bool(xy.abs().max() < 1e-12)
        for k, sense in enumerate(senses):
            rows = ids == k
            ax.scatter(xy[rows, 0], xy[rows, 1], s=16, alpha=0.65, color=OKABE_ITO[k + 4], label=sense,
                       edgecolors="none")
        if not same:
            ax.axvline(0, color="0.3", lw=1, ls="--")
            ax.scatter([-1, 1], [0, 0], marker="x", s=50, color=[OKABE_ITO[4], OKABE_ITO[5]], zorder=3)
        extra = "\n(every point the same)" if same else ""
        ax.set(title=f"{name}\n{note}{extra}", yticks=[], xlabel="" if same else "centroid axis")
    axes[0][0].legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def head_roles(looks: Tensor, breaks: Tensor, look_labels: Sequence[str], break_labels: Sequence[str], *,
               title: str = ""):
    """Two heatmaps side by side, one row per head: where it looks (left) and what is lost when it is removed (right).

    Args:
        looks: (h, L) values in [0, 1] (weights, or an entropy over its maximum).
        breaks: (h, K) accuracy lost when that head alone is removed (full − without it).
    """
    import matplotlib.pyplot as plt

    h = looks.size(0)
    width = len(look_labels) + len(break_labels)
    fig, (left, right) = plt.subplots(1, 2, figsize=(0.9 * width + 2.6, 0.45 * h + 2.2),
                                      gridspec_kw={"width_ratios": [len(look_labels), len(break_labels)]})
    rows = [f"head {i}" for i in range(h)]
    heatmap(left, looks, rows, list(look_labels), vmin=0, vmax=1)
    heatmap(right, breaks, rows, list(break_labels), vmin=0, vmax=max(0.5, float(breaks.max())), cmap="Reds")
    left.set(title="where it looks from the masked verb")
    right.set(title="accuracy lost without it")
    right.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def errors_by_heads(series: dict[str, dict[int, list[float]]], *, ylabel: str = "held-out error (MSE / Var y)",
                    title: str = "", floor: float = 1e-6):
    """Per configuration, every seed's value against h (log scales), their mean joined by a line.

    Args:
        series: a label -> {h: one value per seed}.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for n, (label, by_h) in enumerate(series.items()):
        colour = OKABE_ITO[n % len(OKABE_ITO)]
        hs = sorted(by_h)
        for h in hs:
            ax.scatter([h] * len(by_h[h]), [max(v, floor) for v in by_h[h]], color=colour, s=18, alpha=0.6,
                       edgecolors="none")
        means = [max(sum(by_h[h]) / len(by_h[h]), floor) for h in hs]
        ax.plot(hs, means, color=colour, lw=2, marker="o", label=f"{label} (mean; dots: seeds)")
    ax.set(xscale="log", yscale="log", xlabel="heads h (d_model = 16: d_k = 16 / h)", ylabel=ylabel, title=title)
    ax.set_xticks([1, 2, 4, 8, 16], ["1", "2", "4", "8", "16"])
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    return fig


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


class NoProgress(tqdm_std):
    """A tqdm that shows nothing: what the chapters pass to the trainers.

    A progress bar belongs where training runs live (JupyterLab, a terminal, where the trainers'
    default `tqdm.auto` draws it); on a built page it would only be a frozen line about the build.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)


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
