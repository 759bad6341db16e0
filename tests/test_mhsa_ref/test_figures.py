"""mhsa_ref.figures and mhsa_ref.widgets: PCA planes, static and kernel-free interactive figures, live explorers."""

import functools
import math

import matplotlib

matplotlib.use("Agg")  # no display: figures are drawn off screen

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import tqdm  # noqa: E402

from mhsa_ref import corpus, figures, widgets  # noqa: E402
from mhsa_ref.elmo import train_elmo  # noqa: E402
from mhsa_ref.word2vec import train_word2vec  # noqa: E402
from conftest import assert_close, rand  # noqa: E402

QUIET = functools.partial(tqdm.tqdm, disable=True)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def html_of(interactive) -> str:
    """What the static site embeds: the text/html of the figure's rich display."""
    if hasattr(interactive, "_repr_mimebundle_"):
        return interactive._repr_mimebundle_()["text/html"]
    return interactive._repr_html_()


def plane_points(n=7, d=5, seed=0):
    """n points of R^d that lie in a random 2-D plane (not through the origin)."""
    g = torch.Generator().manual_seed(seed)
    frame, _ = torch.linalg.qr(torch.randn(d, 2, generator=g, dtype=torch.float64))  # (d, 2) orthonormal
    coords = torch.randn(n, 2, generator=g, dtype=torch.float64) * 3
    return coords @ frame.T + torch.randn(d, generator=g, dtype=torch.float64)


# --- PCA plane ------------------------------------------------------------------------------------


def test_pca_basis_shape_orthonormal_and_main_directions():
    x = rand(40, 6) * torch.tensor([5.0, 3.0, 0.1, 0.1, 0.1, 0.1], dtype=torch.float64)
    mean, basis = figures.pca_basis(x)
    assert mean.shape == (6,) and basis.shape == (6, 2) and basis.dtype == torch.float64
    assert_close(mean, x.mean(0))
    assert_close(basis.T @ basis, torch.eye(2, dtype=torch.float64))
    # the two main directions are the top eigenvectors of the covariance (up to sign)
    eigenvalues, eigenvectors = torch.linalg.eigh(torch.cov(x.T))
    top = eigenvectors[:, [-1, -2]]
    assert_close((basis * top).sum(0).abs(), torch.ones(2, dtype=torch.float64))


def test_pca_basis_signs_are_fixed():
    x = rand(20, 5, dtype=torch.float32)
    _, basis = figures.pca_basis(x)
    largest = basis.gather(0, basis.abs().argmax(0, keepdim=True))
    assert (largest > 0).all()
    # the same plane from data whose SVD flips the directions' signs
    _, flipped = figures.pca_basis(-x)
    assert_close(flipped, basis)
    _, again = figures.pca_basis(x.clone())
    assert torch.equal(again, basis)


def test_pca_basis_of_degenerate_inputs_pads_with_zero_directions():
    mean, basis = figures.pca_basis(torch.tensor([[1.0, 2.0, 3.0]]))
    assert basis.shape == (3, 2)
    assert_close(mean, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    _, line = figures.pca_basis(torch.tensor([[0.0], [1.0], [3.0]]))  # D = 1
    assert line.shape == (1, 2) and torch.equal(line, torch.tensor([[1.0, 0.0]], dtype=torch.float64))


def test_project_2d_shape_and_centre():
    x = rand(9, 4, dtype=torch.float32).requires_grad_()
    points = figures.project_2d(x)
    assert points.shape == (9, 2) and points.dtype == torch.float64 and not points.requires_grad
    assert_close(points.mean(0), torch.zeros(2, dtype=torch.float64))


def test_project_2d_of_points_in_a_plane_preserves_distances():
    x = plane_points()
    points = figures.project_2d(x)
    assert_close(torch.cdist(points, points), torch.cdist(x, x))


def test_project_2d_in_a_given_basis():
    background, words = plane_points(seed=1), plane_points(n=3, seed=2)
    basis = figures.pca_basis(background)
    points = figures.project_2d(words, basis)
    assert_close(points, (words - basis[0]) @ basis[1])
    assert not torch.allclose(points, figures.project_2d(words))


# --- static figures -------------------------------------------------------------------------------


def test_running_figure_has_one_axes_per_panel():
    tokens = ["I", "have", "a", "dream"]
    panels = [("one-hot", torch.eye(4)), ("word2vec", rand(4, 24, dtype=torch.float32)), ("ELMo", rand(4, 64, seed=1))]
    fig = figures.running_figure(panels, tokens)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 3
    for ax, (title, vectors) in zip(fig.axes, panels):
        assert ax.get_title().startswith(title) and f"D = {vectors.size(-1)}" in ax.get_title()
        assert [t.get_text() for t in ax.texts] == tokens
        assert ax.collections[0].get_offsets().shape == (4, 2)
    # a token keeps its colour across panels
    colours = [tuple(map(tuple, ax.collections[0].get_facecolors())) for ax in fig.axes]
    assert colours[0] == colours[1] == colours[2]
    fig.canvas.draw()
    assert len(figures.running_figure(panels[:1], tokens).axes) == 1


def test_running_figure_draws_equidistant_points_evenly_on_a_circle():
    """One-hot points are all √2 apart; the figure must not suggest that some are nearer (PCA is degenerate)."""
    fig = figures.running_figure([("one-hot", torch.eye(4)), ("word2vec", rand(4, 24, seed=2))], list("wxyz"))
    one_hot_ax, dense_ax = fig.axes
    xy = torch.as_tensor(one_hot_ax.collections[0].get_offsets().data, dtype=torch.float64)
    d = torch.pdist(xy)
    assert "all equidistant" in one_hot_ax.get_title() and "PCA plane" in dense_ax.get_title()
    assert torch.allclose(xy.norm(dim=1), torch.ones(4, dtype=torch.float64))  # on the unit circle
    assert torch.allclose(d.sort().values[:4], d.min().expand(4))  # neighbours evenly spaced (a square)


def test_running_figure_draws_panels_of_one_space_in_one_plane():
    """X and the Z made from it share their coordinates: drawn in one plane, a word's move is visible."""
    x = plane_points(n=4, d=6)  # (4, 6)
    z = x * 0.5  # every point halfway to the origin... of the space, not of the PCA plane
    panels = [("one-hot", torch.eye(4)), ("X", x), ("Z", z)]
    fig = figures.running_figure(panels, list("wxyz"), same_plane=("X", "Z"))
    _, x_ax, z_ax = fig.axes
    basis = figures.pca_basis(x)
    assert_close(torch.as_tensor(x_ax.collections[0].get_offsets().data), figures.project_2d(x, basis))
    assert_close(torch.as_tensor(z_ax.collections[0].get_offsets().data), figures.project_2d(z, basis))
    assert x_ax.get_xlim() == z_ax.get_xlim() and x_ax.get_ylim() == z_ax.get_ylim()  # one scale
    assert "plane of X" in z_ax.get_title()
    apart = figures.running_figure(panels, list("wxyz"))  # each panel in its own plane: Z looks like X
    assert_close(torch.as_tensor(apart.axes[2].collections[0].get_offsets().data), figures.project_2d(z))
    with pytest.raises(ValueError, match="not panel titles"):
        figures.running_figure(panels, list("wxyz"), same_plane=("X", "Z′"))
    with pytest.raises(ValueError, match="share their width"):
        figures.running_figure(panels, list("wxyz"), same_plane=("one-hot", "X"))


def test_memory_rows_draw_every_number_in_each_rows_order():
    order = torch.arange(12).view(1, 3, 2, 2).transpose(1, 2).reshape(-1).tolist()
    fig = figures.memory_rows([("memory", list(range(12))), ("read", order, 6)], lambda v: ((v % 4) // 2, f"t{v // 4}"))
    assert len(fig.axes) == 2
    for ax, values in zip(fig.axes, (list(range(12)), order)):
        numbers = [t.get_text() for t in ax.texts if t.get_fontsize() == 11]
        assert numbers == [str(v) for v in values]
        assert len(ax.patches) == 12 and "colour: head" in ax.get_title()
    assert [t.get_text() for t in fig.axes[1].texts if t.get_text().startswith("head")] == ["head 0", "head 1"]
    assert not [t for t in fig.axes[0].texts if t.get_text().startswith("head")]
    colours = [p.get_facecolor() for p in fig.axes[1].patches]
    assert colours[:6] == [colours[0]] * 6 and colours[6] != colours[0]  # read head by head: one colour, then the other


def test_five_step_flow_names_every_shape():
    fig = figures.five_step_flow(3, 4, 16, 8)
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    for shape in ("[3, 4, 16]", "[3, 8, 4, 2]", "W^O", "split_heads", "merge_heads", "√2"):
        assert shape in text, shape
    assert sum(t.get_text().startswith(("①", "②", "③", "④", "⑤")) for t in fig.axes[0].texts) == 5
    assert "[2, 4, 5, 3]" in " ".join(t.get_text() for t in figures.five_step_flow(2, 5, 12, 4).axes[0].texts)
    with pytest.raises(ValueError, match="must divide"):
        figures.five_step_flow(3, 4, 16, 5)


def test_flash_tiling_draws_the_tiles_and_one_querys_running_state():
    from mhsa_ref.cost_and_gpu import tiled_attention

    q, k, v = rand(8, 4), rand(8, 4, seed=1), rand(8, 4, seed=2)
    _, maxima, sums = tiled_attention(q * 3, k * 3, v, 2)  # (8, 4) each
    fig = figures.flash_tiling(maxima, sums, seq_len=8, block_size=2, query=5)
    left, right = fig.axes
    assert len(left.patches) == 16  # 4 × 4 tiles
    assert [t.get_text() for t in left.texts if t.get_text()] == [f"step {i}" for i in range(1, 5)]  # the tiles of query 5's row
    assert {t.get_position()[1] for t in left.texts if t.get_text()} == {5.0}  # query 5 sits in the tile of rows 4-5
    shaded = [p for p in left.patches if p.get_linestyle() == "-"]
    assert len(shaded) == 4 and {p.get_y() for p in shaded} == {4}
    m_line, l_line = right.lines[:2]
    assert list(m_line.get_ydata()) == maxima[5].tolist() and list(l_line.get_ydata()) == sums[5].tolist()
    with pytest.raises(ValueError, match="must both be"):
        figures.flash_tiling(maxima, sums[:, :2], seq_len=8, block_size=2)


def test_heatmap_writes_every_value():
    fig, ax = plt.subplots()
    m = torch.tensor([[0.25, 1.0], [-0.5, 0.125]])
    figures.heatmap(ax, m, ["a", "b"], fmt="{:.3f}")
    assert sorted(t.get_text() for t in ax.texts) == sorted(["0.250", "1.000", "-0.500", "0.125"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]


# --- interactive figures --------------------------------------------------------------------------


def assert_kernel_free_html(interactive):
    html = html_of(interactive)
    assert 'class="plotly-graph-div"' in html and "Plotly.newPlot" in html
    assert "<script src" not in html.lower()
    assert "cdn" not in html.lower() and "https://" not in html and "http://" not in html


def test_interactive_heatmap():
    m = rand(3, 4)
    fig = figures.interactive_heatmap(m, ["a", "b", "c"], ["w", "x", "y", "z"], title="scores", zmin=-1, zmax=1)
    trace = fig.figure.data[0]
    assert trace.type == "heatmap"
    assert_close(torch.tensor(trace.z, dtype=torch.float64), m)
    assert list(trace.x) == ["w", "x", "y", "z"] and list(trace.y) == ["a", "b", "c"]
    assert trace.text[1][2] == f"{float(m[1, 2]):.2f}"
    assert fig.figure.layout.title.text == "scores" and fig.figure.layout.height == 420
    assert_kernel_free_html(fig)
    big = figures.interactive_heatmap(torch.zeros(13, 13), [str(i) for i in range(13)])
    assert big.figure.data[0].text is None and list(big.figure.data[0].x) == [str(i) for i in range(13)]


def test_interactive_neighbours():
    words = ["cat", "dog", "tea", "milk", "rome"]
    groups = ["animal", "animal", "drink", "drink", "city"]
    points = torch.arange(10.0).view(5, 2)
    neighbours = {"cat": [("dog", 0.9), ("milk", 0.1)], "tea": [("milk", 0.8)]}
    fig = figures.interactive_neighbours(points, words, groups, neighbours, title="map")
    data = fig.figure.data
    assert [t.name for t in data[:3]] == ["animal", "drink", "city"] and len(data) == 4
    assert list(data[0].text) == ["cat", "dog"] and list(data[0].x) == [0.0, 2.0]
    assert list(data[3].x) == [0.0, 2.0, 6.0] and list(data[3].y) == [1.0, 3.0, 7.0]  # cat, dog, milk
    buttons = fig.figure.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["cat", "tea"]
    assert buttons[1].args[0]["x"] == [[4.0, 6.0]] and list(buttons[1].args[1]) == [3]  # tea, milk; the highlight trace
    assert_kernel_free_html(fig)


def test_interactive_points():
    views = {
        "layer 0": (rand(4, 2), ["a", "b", "c", "d"], ["money", "river", "money", "river"]),
        "layer 2": (rand(3, 2, seed=1), ["e", "f", "g"], ["river", "river", "money"]),
    }
    fig = figures.interactive_points(views, title="bank")
    data = fig.figure.data
    assert len(data) == 4
    assert [t.visible for t in data] == [True, True, False, False]
    assert list(data[0].customdata) == ["a", "c"]
    buttons = fig.figure.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["layer 0", "layer 2"]
    assert buttons[1].args[0]["visible"] == [False, False, True, True]
    assert buttons[1].args[1]["title.text"] == "bank: layer 2"
    assert fig.figure.layout.title.text == "bank: layer 0"
    assert data[0].marker.color == data[3].marker.color  # one colour per group across views
    assert_kernel_free_html(fig)


# --- live explorers (ipywidgets) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def word2vec_model():
    return train_word2vec(corpus.sentences()[:1500], epochs=1, dim=8, tqdm_class=QUIET)


@pytest.fixture(scope="module")
def elmo_model():
    return train_elmo(corpus.sentences()[:600], epochs=1, hidden=8, tqdm_class=QUIET)


def test_explore_neighbours_redraws_on_every_control(word2vec_model, capsys):
    import ipywidgets

    box = widgets.explore_neighbours(word2vec_model)
    assert isinstance(box, ipywidgets.VBox)
    pick, k = box.children[0].children
    assert isinstance(box.children[1], ipywidgets.Output)
    assert pick.value == "cat" and k.value == 5 and "the" in pick.options
    first = capsys.readouterr().out
    assert len([line for line in first.splitlines() if "cosine" in line]) == 5
    figures_before = len(plt.get_fignums())
    pick.value = "bread"
    shown = [line.split()[-3] for line in capsys.readouterr().out.splitlines() if "cosine" in line]
    assert shown == [w for w, _ in word2vec_model.neighbours("bread", 5)]
    k.value = 2
    assert len([line for line in capsys.readouterr().out.splitlines() if "cosine" in line]) == 2
    assert len(plt.get_fignums()) == figures_before + 2  # one new drawing per change


def test_explore_neighbours_on_a_chosen_word_list(word2vec_model):
    box = widgets.explore_neighbours(word2vec_model, start="dog", words=corpus.ANIMALS)
    pick, _ = box.children[0].children
    assert sorted(pick.options) == sorted(corpus.ANIMALS) and pick.value == "dog"
    pick.value = "cat"


def test_explore_elmo_redraws_on_every_control(elmo_model, capsys):
    import ipywidgets

    box = widgets.explore_elmo(elmo_model, corpus.sentences()[:40])
    assert isinstance(box, ipywidgets.VBox)
    text, layer = box.children[0].children
    assert text.value == "we sat on the bank of the river"
    assert [v for _, v in layer.options] == [0, 1, 2] and layer.value == 2
    drawn = len(plt.get_fignums())
    assert drawn >= 1
    text.value = "she deposited cash at the bank"
    layer.value = 0
    assert len(plt.get_fignums()) == drawn + 2
    capsys.readouterr()
    text.value = "the zebra ate bread"
    assert "Not in the vocabulary (read as <unk>): zebra" in capsys.readouterr().out
    text.value = "   "
    assert "Type a sentence." in capsys.readouterr().out
    assert len(plt.get_fignums()) == drawn + 3  # an empty sentence draws nothing
    ax = plt.figure(plt.get_fignums()[-1]).axes[0]
    assert [t.get_text() for t in ax.texts] == ["the", "zebra", "ate", "bread"]
    assert math.isfinite(ax.collections[-1].get_offsets().sum())


# --- the attention explorer (chapter 05, exercise 05) ----------------------------------------------------

DREAM = ["I", "have", "a", "dream"]


def test_attention_scene_moves_each_word_to_a_weighted_average_of_the_sentence(word2vec_model):
    x, z, weights = widgets.attention_scene(word2vec_model, DREAM, d_k=2)
    assert x.shape == z.shape == (4, word2vec_model.vectors.size(1)) and weights.shape == (4, 4)
    assert_close(weights.sum(-1), torch.ones(4))
    assert_close(z, weights @ x)  # W^V is the identity: Z is in X's space
    assert_close(x, torch.stack([word2vec_model[t] for t in DREAM]))


def test_attention_scene_causal_and_temperature(word2vec_model):
    _, z, causal = widgets.attention_scene(word2vec_model, DREAM, causal=True)
    x, _, _ = widgets.attention_scene(word2vec_model, DREAM)
    assert torch.equal(causal.triu(1), torch.zeros(4, 4)) and causal[0, 0] == 1
    assert_close(z[0], x[0])  # the first word may only attend to itself: it does not move
    sharp = widgets.attention_scene(word2vec_model, DREAM, temperature=0.25)[2]
    flat = widgets.attention_scene(word2vec_model, DREAM, temperature=4.0)[2]
    assert (sharp.amax(-1) > flat.amax(-1)).all()  # a lower temperature concentrates every row


def test_explore_attention_redraws_with_the_given_attention(word2vec_model):
    calls = []

    def attention(*args):
        calls.append(args)
        return widgets.self_attention(*args)

    box = widgets.explore_attention(word2vec_model, attention=attention)
    (text, causal), (d_k, temperature) = box.children[0].children, box.children[1].children
    first = len(calls)
    assert first == 1
    d_k.value, temperature.value, causal.value = 5, 0.5, True
    text.value = "the cat and the dog ate bread"
    assert len(calls) == first + 4
    x, w_q, w_k, w_v, mask = calls[-1]
    assert x.shape == (1, 7, word2vec_model.vectors.size(1)) and w_q.shape[1] == 5 and mask is not None
    assert_close(w_q, w_k / 0.5)
    plt.close("all")


# --- the eight planes (chapter 06, exercise 06) -----------------------------------------------------------


# The fixture's word2vec is 8 wide, so these use 4 heads of d_k = 2 (the chapter: 8 heads of a 24-wide model).


def test_head_points_are_the_main_directions_scaled_to_unit_spread(word2vec_model):
    x = widgets.head_points(word2vec_model, DREAM, d_model=8)
    assert x.shape == (1, 4, 8)
    every_word = widgets.head_points(word2vec_model, word2vec_model.words, d_model=8)[0]  # (V, 8)
    torch.testing.assert_close(every_word.mean(0), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(every_word.std(0), torch.ones(8), atol=1e-4, rtol=0)  # every plane spreads alike
    with pytest.raises(ValueError, match="exceeds the word2vec width"):
        widgets.head_points(word2vec_model, DREAM, d_model=word2vec_model.vectors.size(1) + 1)


def test_head_weights_are_oblique_planes_put_back_by_w_o():
    w_q, w_k, w_v, w_o = widgets.head_weights(16, 8, sharpness=3.0)  # by default heads 6 and 7 are asymmetric
    torch.testing.assert_close(w_v @ w_o, torch.eye(16), atol=1e-5, rtol=0)  # W^O = (W^V)ᵀ: no attention, no move
    torch.testing.assert_close(w_v.T @ w_v, torch.eye(16), atol=1e-5, rtol=0)  # orthogonal: 8 planes at right angles
    assert (w_v[:, :2].abs() > 0.01).sum() > 12  # oblique: a head's plane reads (almost) every feature
    gaussian = torch.randn(16, 16, generator=torch.Generator().manual_seed(0))
    assert bool((torch.diagonal(w_v.T @ gaussian) > 0).all())  # QR's sign convention fixed: one R everywhere
    for i in range(8):
        block = slice(2 * i, 2 * i + 2)
        symmetric = torch.allclose(w_q[:, block], w_k[:, block])
        assert symmetric == (i not in (6, 7)), i
        assert_close(w_q[:, block], 3**0.5 * w_v[:, block])
    turned = w_k[:, 12:14]
    torch.testing.assert_close(turned.T @ w_q[:, 12:14], torch.tensor([[0.0, 3.0], [-3.0, 0.0]]), atol=1e-5, rtol=0)  # a right angle
    assert torch.equal(widgets.head_weights(seed=1)[2], widgets.head_weights(seed=1)[2])
    assert not torch.allclose(widgets.head_weights(seed=1)[2], w_v)
    with pytest.raises(ValueError, match="must divide"):
        widgets.head_weights(16, 5)
    with pytest.raises(ValueError, match="even head width"):
        widgets.head_weights(12, 4)
    assert torch.equal(widgets.head_weights(12, 4, asymmetric=())[0], widgets.head_weights(12, 4, asymmetric=())[1])
    with pytest.raises(ValueError, match="must lie in"):
        widgets.head_weights(16, 8, asymmetric=(8,))


def test_head_scene_attends_in_each_heads_own_plane(word2vec_model):
    before, after, weights = widgets.head_scene(word2vec_model, DREAM, num_heads=4, d_k=2)
    assert before.shape == after.shape == (4, 4, 2) and weights.shape == (4, 4, 4)
    x = widgets.head_points(word2vec_model, DREAM, d_model=8)[0]  # (T, 8)
    w_q, w_k, w_v, _ = widgets.head_weights(8, 4)
    for i in range(4):  # head i: the column block i of each matrix, applied to the whole vector
        block = slice(2 * i, 2 * i + 2)
        q, k, v = x @ w_q[:, block], x @ w_k[:, block], x @ w_v[:, block]
        assert_close(before[i], v)
        assert_close(weights[i], torch.softmax(q @ k.T / math.sqrt(2), -1))
        assert_close(after[i], weights[i] @ v)
    assert not torch.allclose(weights[0], weights[1])  # the heads disagree: the point of having several
    assert not torch.allclose(weights[3], weights[3].T)  # an asymmetric head (W^Q ≠ W^K) by default
    own = [torch.eye(8) * 2, torch.eye(8) * 2, torch.eye(8)]
    plain = widgets.head_scene(word2vec_model, DREAM, num_heads=4, weights=own)
    assert_close(plain[0], x.view(4, 4, 2).transpose(0, 1))  # W^V = I: the planes are X's own feature pairs
    causal = widgets.head_scene(word2vec_model, DREAM, num_heads=4, causal=True)[2]
    assert torch.equal(causal.triu(1), torch.zeros(4, 4, 4))


def test_draw_head_planes_has_a_panel_per_head_with_every_word(word2vec_model):
    before, after, _ = widgets.head_scene(word2vec_model, DREAM, num_heads=4)
    fig = widgets.draw_head_planes(before, after, DREAM, columns=3)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [f"head {i}" for i in range(4)]
    assert len(fig.axes) == 6 and not fig.axes[-1].axison  # 2 rows of 3: the unused panels are blank
    for ax, b, a in zip(panels, before, after):
        hollow, filled = ax.collections[0].get_offsets(), ax.collections[-1].get_offsets()
        assert_close(torch.tensor(hollow.data), b.double())
        assert_close(torch.tensor(filled.data), a.double())
        assert {t.get_text() for t in ax.texts} - {""} == set(DREAM)  # the arrows are empty annotations
    with pytest.raises(ValueError, match=r"\(h, T, 2\)"):
        widgets.draw_head_planes(before, after[:, :, :1], DREAM)


def test_static_heatmaps_are_cividis_with_every_value_written():
    """Colour-blind safe (and readable in grey), and the numbers are there for those who cannot read colour."""
    fig, ax = plt.subplots()
    image = figures.heatmap(ax, torch.tensor([[0.25, 0.75], [1.0, 0.0]]), ["a", "b"])
    assert image.get_cmap().name == "cividis"
    assert sorted(t.get_text() for t in ax.texts) == ["0.00", "0.25", "0.75", "1.00"]
