"""Live explorers for JupyterLab (ipywidgets): they need a running kernel, so the site never shows them.

The static site has the kernel-free counterparts (`mhsa_ref.figures.interactive_*`); these
redraw from the trained models on every change of a control. `attention_scene` and `draw_scene`
are plain functions, shared by the attention explorer and chapter 05's figures.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from mhsa_ref import figures
from mhsa_ref.elmo import ELMo
from mhsa_ref.attention import scaled_dot_product_attention
from mhsa_ref.self_attention import causal_mask, self_attention
from mhsa_ref.split_heads import split_heads
from mhsa_ref.word2vec import Word2Vec


def explore_neighbours(model: Word2Vec, *, start: str = "cat", words: Sequence[str] | None = None):
    """Pick a word → its nearest neighbours (a table of cosines) and where they sit on the 2-D map."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    words = list(words or [v for v in model.words if v.isalpha()])
    points = figures.project_2d(model.vectors[[model.vocab[v] for v in words]])  # (N, 2)
    pick = w.Dropdown(options=sorted(words, key=str.lower), value=start, description="word")
    k = w.IntSlider(value=5, min=1, max=12, description="neighbours")
    out = w.Output()

    def draw(*_):
        near = model.neighbours(pick.value, k.value)
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6.5, 4.5))
            ax.scatter(points[:, 0], points[:, 1], s=12, color="#BBBBBB")
            chosen = [pick.value] + [n for n, _ in near]
            rows = [words.index(v) for v in chosen if v in words]
            figures.scatter_words(ax, points[rows], [words[r] for r in rows],
                                  colours=["#D55E00"] + ["#0072B2"] * (len(rows) - 1), size=50)
            ax.set(title=f"{pick.value} and its {k.value} nearest words (PCA plane)", xticks=[], yticks=[])
            plt.show()
            print("\n".join(f"{n:>12}  cosine {c:+.3f}" for n, c in near))

    pick.observe(draw, names="value")
    k.observe(draw, names="value")
    draw()
    return w.VBox([w.HBox([pick, k]), out])


def explore_elmo(model: ELMo, background: Sequence[Sequence[str]], *,
                 start: str = "we sat on the bank of the river"):
    """Type a sentence → its words as ELMo points, drawn over the points of `background` sentences.

    The plane is the PCA plane of the background's vectors at the chosen layer, so a word that
    moves between sentences moves on the screen.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    layer_names = ["0: token embedding"] + [f"{j}: LSTM layer {j}" for j in range(1, len(model.model.forward_lstms) + 1)]
    with torch.no_grad():
        reference = torch.cat([model.vectors(s) for s in background], dim=1)  # (L, N, 2H)
    bases = [figures.pca_basis(reference[j]) for j in range(reference.size(0))]
    text = w.Text(value=start, description="sentence", layout=w.Layout(width="60%"))
    layer = w.Dropdown(options=[(n, j) for j, n in enumerate(layer_names)],
                       value=len(layer_names) - 1, description="layer")
    out = w.Output()

    def draw(*_):
        tokens = text.value.split()
        with out:
            out.clear_output(wait=True)
            if not tokens:
                print("Type a sentence.")
                return
            unknown = [t for t in tokens if t not in model.vocab]
            points = figures.project_2d(model.vectors(tokens)[layer.value], bases[layer.value])  # (T, 2)
            cloud = figures.project_2d(reference[layer.value], bases[layer.value])  # (N, 2)
            fig, ax = plt.subplots(figsize=(6.5, 4.5))
            ax.scatter(cloud[:, 0], cloud[:, 1], s=6, color="#DDDDDD")
            figures.scatter_words(ax, points, tokens, size=60)
            ax.set(title=f"'{text.value}' at layer {layer_names[layer.value]}", xticks=[], yticks=[])
            plt.show()
            if unknown:
                print(f"Not in the vocabulary (read as <unk>): {', '.join(unknown)}")

    text.observe(draw, names="value")
    layer.observe(draw, names="value")
    draw()
    return w.VBox([w.HBox([text, layer]), out])


def attention_scene(model: Word2Vec, tokens: Sequence[str], *, d_k: int = 2, temperature: float = 1.0,
                    causal: bool = False, attention: Callable = self_attention,
                    mask_fn: Callable[[int], Tensor] = causal_mask) -> tuple[Tensor, Tensor, Tensor]:
    """Self-attention over the word2vec points of `tokens`: X (T, D), Z (T, D) and the weights (T, T).

    W^Q = W^K project onto the d_k main directions of the whole word2vec space, so a word's score
    for another is their similarity there; dividing the queries by `temperature` sharpens (< 1) or
    flattens (> 1) the weights. W^V is the identity, so Z lives in the same space as X: each z_t is
    a weighted average of the word points, a new position for word t.
    """
    x = torch.stack([model[t] for t in tokens]).unsqueeze(0)  # (1, T, D)
    centred = model.vectors - model.vectors.mean(0)  # (V, D)
    directions = torch.linalg.svd(centred, full_matrices=False)[2][:d_k].T  # (D, d_k)
    w_k = directions * model.vectors.norm(dim=1).mean().reciprocal() * 4  # scores of order 1–10
    mask = mask_fn(len(tokens)) if causal else None
    z, weights = attention(x, w_k / temperature, w_k, torch.eye(x.size(-1)), mask)
    return x[0], z[0], weights[0]  # (T, D), (T, D), (T, T)


def head_points(model: Word2Vec, tokens: Sequence[str], d_model: int = 16) -> Tensor:
    """X for the multi-head figures: the tokens' word2vec points in the space's d_model main directions, (1, T, d_model).

    Each direction is scaled to unit variance over the vocabulary, so that every head's subspace
    (d_k consecutive directions after `split_heads`) spreads the words about equally.
    """
    centred = model.vectors - model.vectors.mean(0)  # (V, D)
    if d_model > centred.size(1):
        raise ValueError(f"d_model={d_model} exceeds the word2vec width {centred.size(1)}")
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    directions = vh[:d_model].T  # (D, d_model)
    spread = (centred @ directions).std(0)  # (d_model,)
    mean = model.vectors.mean(0)
    return torch.stack([(model[t] - mean) @ directions / spread for t in tokens]).unsqueeze(0)  # (1, T, d_model)


def head_weights(d_model: int = 16, num_heads: int = 8, *, sharpness: float = 3.0,
                 asymmetric: Sequence[int] | None = None, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """W^Q, W^K, W^V and W^O (each (d_model, d_model)) for the multi-head figures of chapters 06 and 07.

    W^V = R, a random orthogonal matrix: head i's plane is spanned by R's column block
    i·d_k … (i+1)·d_k − 1, an oblique subspace that reads all d_model features of a word, as the
    column blocks of a trained W^V do (chapter 07). W^Q = W^K = √sharpness · R, so a head scores two
    words by their similarity in its own plane, except in the heads listed in `asymmetric`, where
    W^K's block is W^Q's turned by a right angle inside the plane (d_k must be even; by default the
    last quarter of the heads, 6 and 7 of 8): a word there looks for words in another direction than
    its own, and the scores are no longer symmetric.
    W^O = Rᵀ puts every head's plane back where it came from, so with no attention the layer
    returns X, and what it adds is each head's move, each in its own plane.
    """
    if num_heads < 1 or d_model % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
    d_k = d_model // num_heads
    if asymmetric is None:
        asymmetric = range(num_heads - max(1, num_heads // 4), num_heads)
    if asymmetric and d_k % 2:
        raise ValueError(f"a right-angle turn needs an even head width; d_k={d_k}")
    if any(not 0 <= i < num_heads for i in asymmetric):
        raise ValueError(f"asymmetric heads must lie in 0..{num_heads - 1}; got {list(asymmetric)}")
    g = torch.Generator().manual_seed(seed)
    r, upper = torch.linalg.qr(torch.randn(d_model, d_model, generator=g))  # (d_model, d_model) orthogonal
    r = r * torch.sign(torch.diagonal(upper))  # QR's signs fixed: the same R on every machine
    w_q = r * sharpness**0.5
    w_k = w_q.clone()
    turn = torch.zeros(d_k, d_k)  # a right angle in each consecutive pair of the head's coordinates
    for j in range(0, d_k - 1, 2):
        turn[j, j + 1], turn[j + 1, j] = -1.0, 1.0
    for i in asymmetric:
        block = slice(i * d_k, (i + 1) * d_k)
        w_k[:, block] = w_q[:, block] @ turn  # (d_model, d_k)
    return w_q, w_k, r.clone(), r.T.clone()


def head_scene(model: Word2Vec, tokens: Sequence[str], *, num_heads: int = 8, d_k: int = 2,
               weights: tuple[Tensor, Tensor, Tensor] | None = None,
               causal: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """Multi-head self-attention over `tokens`, head by head: V's heads (h, T, d_k), Z's heads, the weights (h, T, T).

    X comes from `head_points`; `weights` are (W^Q, W^K, W^V), by default `head_weights`'s oblique
    planes. Head i's plane is X · W^V[:, i·d_k:(i+1)·d_k]: the "before" point of a word there is
    its value in that head, and the "after" point Z_i, the weighted average of the sentence's values.
    """
    x = head_points(model, tokens, num_heads * d_k)  # (1, T, d_model)
    w_q, w_k, w_v = weights if weights is not None else head_weights(num_heads * d_k, num_heads)[:3]
    q, k, v = (split_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))  # (1, h, T, d_k) each
    mask = causal_mask(len(tokens)) if causal else None
    zh, attn = scaled_dot_product_attention(q, k, v, mask)  # (1, h, T, d_k), (1, h, T, T)
    return v[0], zh[0], attn[0]  # (h, T, d_k), (h, T, d_k), (h, T, T)


def draw_head_planes(before: Tensor, after: Tensor, tokens: Sequence[str], *, columns: int = 4):
    """The course's signature figure: each head's plane, with every word before (hollow) and after (filled).

    Args:
        before, after: (h, T, 2), the tokens' points in each head's 2-D subspace before and after attention.
    """
    import matplotlib.pyplot as plt

    h = before.size(0)
    if before.shape != after.shape or before.size(-1) != 2:
        raise ValueError(f"before and after must both be (h, T, 2); got {tuple(before.shape)} and {tuple(after.shape)}")
    rows = -(-h // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 3.0 * rows), squeeze=False)
    colours = [figures.OKABE_ITO[i % len(figures.OKABE_ITO)] for i in range(len(tokens))]
    for i, ax in enumerate(axes.flat):
        if i >= h:
            ax.axis("off")
            continue
        b, a = before[i].detach().double(), after[i].detach().double()
        span = float(torch.cat([b, a]).abs().max()) * 1.3 or 1.0  # each head on its own scale
        ax.scatter(b[:, 0], b[:, 1], s=60, facecolors="none", edgecolors=colours, linewidths=1.5)
        for (x0, y0), (x1, y1), c in zip(b.tolist(), a.tolist(), colours):
            ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": c, "lw": 1.1})
        figures.scatter_words(ax, a, tokens, colours=colours, size=60, annotate=False)
        for (x0, y0), token in zip(b.tolist(), tokens):
            ax.annotate(token, (x0, y0), textcoords="offset points", xytext=(5, 4), fontsize=8, color="#555555")
        ax.axhline(0, color="#dddddd", lw=0.6, zorder=0)
        ax.axvline(0, color="#dddddd", lw=0.6, zorder=0)
        ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal", xticks=[], yticks=[], title=f"head {i}")
    fig.tight_layout()
    return fig


def draw_scene(x: Tensor, z: Tensor, weights: Tensor, tokens: Sequence[str], title: str = ""):
    """The explorer's picture: the weights as a heatmap, and X → Z as arrows in X's PCA plane."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    figures.heatmap(left, weights, tokens, vmin=0, vmax=1)
    left.set(title="weights (row: query, column: key)")
    basis = figures.pca_basis(x) if len(tokens) > 1 else None
    before = figures.project_2d(x, basis) if basis else torch.zeros(len(tokens), 2)
    after = figures.project_2d(z, basis) if basis else torch.zeros(len(tokens), 2)
    colours = [figures.OKABE_ITO[i % len(figures.OKABE_ITO)] for i in range(len(tokens))]
    right.scatter(before[:, 0], before[:, 1], s=70, facecolors="none", edgecolors=colours, linewidths=1.5)
    for (x0, y0), token in zip(before.tolist(), tokens):
        right.annotate(token, (x0, y0), textcoords="offset points", xytext=(5, -10), fontsize=8, color="#666666")
    for (x0, y0), (x1, y1), c in zip(before.tolist(), after.tolist(), colours):
        right.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": c, "lw": 1.2})
    figures.scatter_words(right, after, tokens, colours=colours, size=70)
    right.set(title="X (hollow) → Z (filled), PCA plane of X", xticks=[], yticks=[])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def explore_attention(model: Word2Vec, *, attention: Callable = self_attention,
                      mask_fn: Callable[[int], Tensor] = causal_mask, start: str = "I have a dream"):
    """Type a sentence, choose d_k and a temperature, toggle the causal mask: watch the weights and Z move.

    attention and mask_fn: the self-attention and the causal mask to show (a learner passes their own).
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    text = w.Text(value=start, description="sentence", layout=w.Layout(width="50%"))
    d_k = w.IntSlider(value=2, min=1, max=8, description="d_k")
    temperature = w.FloatLogSlider(value=1.0, base=2, min=-2, max=2, step=0.25, description="temperature")
    causal = w.Checkbox(value=False, description="causal mask")
    out = w.Output()

    def draw(*_):
        tokens = [t for t in text.value.split() if t in model.vocab]
        unknown = [t for t in text.value.split() if t not in model.vocab]
        with out:
            out.clear_output(wait=True)
            if not tokens:
                print("Type words of the corpus, e.g. 'I have a dream'.")
                return
            x, z, weights = attention_scene(model, tokens, d_k=d_k.value, temperature=temperature.value,
                                            causal=causal.value, attention=attention, mask_fn=mask_fn)
            draw_scene(x, z, weights, tokens)
            plt.show()
            if unknown:
                print(f"Not in the corpus vocabulary (left out): {', '.join(unknown)}")

    for control in (text, d_k, temperature, causal):
        control.observe(draw, names="value")
    draw()
    return w.VBox([w.HBox([text, causal]), w.HBox([d_k, temperature]), out])
