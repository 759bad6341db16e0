"""Live explorers for JupyterLab (ipywidgets): they need a running kernel, so the site never shows them.

The static site has the kernel-free counterparts (`mhsa_ref.figures.interactive_*`); these
redraw from the trained models on every change of a control.
"""

from __future__ import annotations

from typing import Sequence

import torch

from mhsa_ref import figures
from mhsa_ref.elmo import ELMo
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
