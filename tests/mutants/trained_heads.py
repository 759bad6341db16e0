"""Realistic wrong answers to exercise 09_trained_heads, and correct ones to compare with."""

from __future__ import annotations

import math

import torch

from mutants import Mutant

# --- correct answers (learner style, not the reference) ----------------------------------------------


def sinusoidal_positions(seq_len, d_model):
    if d_model % 2 != 0:
        raise ValueError(f"d_model must be even, got {d_model}")
    pos = torch.arange(seq_len).unsqueeze(1).float()  # (T, 1)
    div = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))  # (d_model/2,)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


def sense_separation(train_points, train_senses, test_points, test_senses):
    n = int(train_senses.max()) + 1
    centroids = torch.stack([train_points[train_senses == s].mean(0) for s in range(n)])  # (C, d)
    distance = ((test_points.unsqueeze(1) - centroids.unsqueeze(0)) ** 2).sum(-1)  # (M, C)
    return (distance.argmin(1) == test_senses).float().mean().item()


# --- sinusoidal_positions -------------------------------------------------------------------------------


def _angles(seq_len, d_model, start=0):
    pos = torch.arange(start, start + seq_len, dtype=torch.float32).unsqueeze(1)
    return pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)


def positions_swapped(seq_len, d_model):
    a = _angles(seq_len, d_model)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.cos(a), torch.sin(a)
    return pe


def positions_concatenated(seq_len, d_model):
    a = _angles(seq_len, d_model)
    return torch.cat([torch.sin(a), torch.cos(a)], dim=1)


def positions_no_factor_two(seq_len, d_model):
    pos = torch.arange(seq_len, dtype=torch.float32).unsqueeze(1)
    a = pos / 10000 ** (torch.arange(d_model // 2, dtype=torch.float32) / d_model)  # i/d instead of 2i/d
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(a), torch.cos(a)
    return pe


def positions_column_exponent(seq_len, d_model):
    pos = torch.arange(seq_len, dtype=torch.float32).unsqueeze(1)
    a = pos / 10000 ** (torch.arange(d_model, dtype=torch.float32) / d_model)  # column j uses j/d
    pe = torch.sin(a)
    pe[:, 1::2] = torch.cos(a[:, 1::2])
    return pe


def positions_from_one(seq_len, d_model):
    a = _angles(seq_len, d_model, start=1)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(a), torch.cos(a)
    return pe


def positions_float64(seq_len, d_model):
    pos = torch.arange(seq_len, dtype=torch.float64).unsqueeze(1)
    a = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(seq_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(a), torch.cos(a)
    return pe


def positions_odd_allowed(seq_len, d_model):
    a = _angles(seq_len, d_model + d_model % 2)
    pe = torch.zeros(seq_len, d_model + d_model % 2)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(a), torch.cos(a)
    return pe[:, :d_model]  # an odd width silently loses its last cos


# --- sense_separation -----------------------------------------------------------------------------------


def _centroids(points, senses, n=None):
    n = n or int(senses.max()) + 1
    return torch.stack([points[senses == s].mean(0) for s in range(n)])


def separation_test_centroids(train_points, train_senses, test_points, test_senses):
    centroids = _centroids(test_points, test_senses, int(train_senses.max()) + 1)
    return (torch.cdist(test_points, centroids).argmin(1) == test_senses).float().mean().item()


def separation_count(train_points, train_senses, test_points, test_senses):
    centroids = _centroids(train_points, train_senses)
    return int((torch.cdist(test_points, centroids).argmin(1) == test_senses).sum())


def separation_farthest(train_points, train_senses, test_points, test_senses):
    centroids = _centroids(train_points, train_senses)
    return (torch.cdist(test_points, centroids).argmax(1) == test_senses).float().mean().item()


def separation_nearest_point(train_points, train_senses, test_points, test_senses):
    nearest = torch.cdist(test_points, train_points).argmin(1)
    return (train_senses[nearest] == test_senses).float().mean().item()


def separation_two_senses(train_points, train_senses, test_points, test_senses):
    c0, c1 = train_points[train_senses == 0].mean(0), train_points[train_senses == 1].mean(0)
    guess = ((test_points - c1).norm(dim=1) < (test_points - c0).norm(dim=1)).long()
    return (guess == test_senses).float().mean().item()


def separation_cosine(train_points, train_senses, test_points, test_senses):
    centroids = _centroids(train_points, train_senses)
    similarity = torch.nn.functional.normalize(test_points, dim=1) @ torch.nn.functional.normalize(centroids, dim=1).T
    return (similarity.argmax(1) == test_senses).float().mean().item()


ASSIGNMENT = "09_trained_heads"
CORRECT = {"sinusoidal_positions": sinusoidal_positions, "sense_separation": sense_separation}
MUTANTS = {
    "positions_swapped": Mutant("sinusoidal_positions", positions_swapped, "sin and cos were swapped"),
    "positions_concatenated": Mutant("sinusoidal_positions", positions_concatenated, "concatenated"),
    "positions_no_factor_two": Mutant("sinusoidal_positions", positions_no_factor_two, "exponent is 2i/d_model"),
    "positions_column_exponent": Mutant("sinusoidal_positions", positions_column_exponent, "column's index"),
    "positions_from_one": Mutant("sinusoidal_positions", positions_from_one, "positions start at 0"),
    "positions_float64": Mutant("sinusoidal_positions", positions_float64, "float64"),
    "positions_odd_allowed": Mutant("sinusoidal_positions", positions_odd_allowed, "expected a ValueError"),
    "separation_test_centroids": Mutant("sense_separation", separation_test_centroids, "means of the test points"),
    "separation_count": Mutant("sense_separation", separation_count, "their share"),
    "separation_farthest": Mutant("sense_separation", separation_farthest, "farthest centroid"),
    "separation_nearest_point": Mutant("sense_separation", separation_nearest_point, "nearest training point"),
    "separation_two_senses": Mutant("sense_separation", separation_two_senses, "only two senses"),
    "separation_cosine": Mutant("sense_separation", separation_cosine, "Euclidean distance"),
}
VISIBLE = ["positions_swapped", "positions_concatenated", "positions_no_factor_two", "positions_column_exponent",
           "positions_from_one", "positions_float64", "separation_test_centroids", "separation_count",
           "separation_farthest"]


# --- other correct answers: they must keep full marks too ------------------------------------------------


def sinusoidal_positions_stacked(seq_len, d_model):
    if d_model % 2:
        raise ValueError("d_model must be even")
    i = torch.arange(d_model // 2, dtype=torch.float64)
    angle = torch.arange(seq_len, dtype=torch.float64)[:, None] / (10000.0 ** (2 * i / d_model))
    return torch.stack([angle.sin(), angle.cos()], dim=-1).reshape(seq_len, d_model).float()


def sense_separation_loop(train_points, train_senses, test_points, test_senses):
    senses = sorted(set(train_senses.tolist()))
    centroids = {s: train_points[train_senses == s].mean(0) for s in senses}
    right = 0
    for point, sense in zip(test_points, test_senses.tolist()):
        best = min(senses, key=lambda s: float(torch.dist(point, centroids[s])))
        right += best == sense
    return right / len(test_senses)


ALTERNATIVES = {"sinusoidal_positions": [sinusoidal_positions_stacked], "sense_separation": [sense_separation_loop]}


# --- position_shift: a correct answer and mutants ------------------------------------------------------------


def position_shift(offset, d_model):
    blocks = []
    for i in range(d_model // 2):
        angle = offset / 10000 ** (2 * i / d_model)
        c, s = math.cos(angle), math.sin(angle)
        blocks.append(torch.tensor([[c, -s], [s, c]]))
    return torch.block_diag(*blocks)


def shift_transposed(offset, d_model):
    return position_shift(offset, d_model).T


def shift_rate_per_column(offset, d_model):
    blocks = []
    for i in range(d_model // 2):
        angle = offset / 10000 ** (i / d_model)  # i/d instead of 2i/d
        c, s = math.cos(angle), math.sin(angle)
        blocks.append(torch.tensor([[c, -s], [s, c]]))
    return torch.block_diag(*blocks)


def shift_same_angle(offset, d_model):
    c, s = math.cos(offset), math.sin(offset)
    return torch.block_diag(*[torch.tensor([[c, -s], [s, c]])] * (d_model // 2))


def shift_float64(offset, d_model):
    return position_shift(offset, d_model).double()


CORRECT.update({
    "position_shift": position_shift,
    "answer_position_norm": math.sqrt(8),
})
MUTANTS.update({
    "shift_transposed": Mutant("position_shift", shift_transposed, "transposed"),
    "shift_rate_per_column": Mutant("position_shift", shift_rate_per_column, "the exponent is 2i/d_model"),
    "shift_same_angle": Mutant("position_shift", shift_same_angle, "turned by k radians"),
    "shift_float64": Mutant("position_shift", shift_float64, "float32"),
    "position_norm_one": Mutant("answer_position_norm", 1.0, "the squares add up"),
    "position_norm_squared": Mutant("answer_position_norm", 8, "squared length"),
    "position_norm_text": Mutant("answer_position_norm", "sqrt(8)", "one number"),
})
VISIBLE += ["shift_transposed", "shift_same_angle", "position_norm_text"]


# --- remove_heads and the questions on the experiment -------------------------------------------------------

# What the stored 8-head encoder of seed 1 gives (mhsa_ref/data/trained_heads.pt, written by the sweep of
# python -m mhsa_ref.trained_heads --sweep): a new sweep that changes the encoder changes these answers.
FORM_HEAD, REMOVABLE, SENSE_HEAD = 4, 4, 6


def remove_heads(w_o, heads, num_heads):
    if len(heads) == 0 or min(heads) < 0 or max(heads) >= num_heads:
        raise ValueError(f"heads must be indices 0 … {num_heads - 1}, at least one")
    keep = torch.ones(num_heads, dtype=w_o.dtype, device=w_o.device)
    keep[list(heads)] = 0
    return w_o * keep.repeat_interleave(w_o.shape[0] // num_heads).unsqueeze(1)  # a (d_model, 1) mask of rows


def remove_heads_view(w_o, heads, num_heads):
    if not heads or any(i < 0 or i >= num_heads for i in heads):
        raise ValueError("bad head index")
    out = w_o.clone().view(num_heads, -1, w_o.shape[1])  # (h, d_k, d_model): head i's rows together
    out[list(heads)] = 0
    return out.view_as(w_o)


def remove_columns(w_o, heads, num_heads):
    if not heads or any(i < 0 or i >= num_heads for i in heads):
        raise ValueError("bad head index")
    d_k = w_o.shape[0] // num_heads
    out = w_o.clone()
    for i in heads:
        out[:, i * d_k:(i + 1) * d_k] = 0
    return out


def remove_one_row(w_o, heads, num_heads):
    if not heads or any(i < 0 or i >= num_heads for i in heads):
        raise ValueError("bad head index")
    out = w_o.clone()
    out[list(heads)] = 0
    return out


def remove_strided(w_o, heads, num_heads):
    if not heads or any(i < 0 or i >= num_heads for i in heads):
        raise ValueError("bad head index")
    out = w_o.clone()
    for i in heads:
        out[i::num_heads] = 0
    return out


def remove_the_others(w_o, heads, num_heads):
    if not heads or any(i < 0 or i >= num_heads for i in heads):
        raise ValueError("bad head index")
    d_k = w_o.shape[0] // num_heads
    out = torch.zeros_like(w_o)
    for i in heads:
        out[i * d_k:(i + 1) * d_k] = w_o[i * d_k:(i + 1) * d_k]
    return out


def remove_in_place(w_o, heads, num_heads):
    if not heads or any(i < 0 or i >= num_heads for i in heads):
        raise ValueError("bad head index")
    d_k = w_o.shape[0] // num_heads
    for i in heads:
        w_o[i * d_k:(i + 1) * d_k] = 0
    return w_o


def remove_unchecked(w_o, heads, num_heads):
    d_k = w_o.shape[0] // num_heads
    out = w_o.clone()
    for i in heads:
        out[i * d_k:(i + 1) * d_k] = 0  # [-1] zeroes the last head's rows; [] removes nothing
    return out


def remove_on_cpu(w_o, heads, num_heads):
    if not heads or any(i < 0 or i >= num_heads for i in heads):
        raise ValueError("bad head index")
    d_k = w_o.shape[0] // num_heads
    keep = torch.ones(w_o.shape[0], 1, dtype=w_o.dtype)  # created on the CPU, whatever w_o's device
    for i in heads:
        keep[i * d_k:(i + 1) * d_k] = 0
    return w_o * keep


def remove_no_range_check(w_o, heads, num_heads):
    if not heads:
        raise ValueError("no heads")
    d_k = w_o.shape[0] // num_heads
    out = w_o.clone()
    for i in heads:
        out[i * d_k:(i + 1) * d_k] = 0
    return out


CORRECT.update({"remove_heads": remove_heads, "answer_one_head": "a", "answer_form_head": FORM_HEAD,
                "answer_removable": REMOVABLE})
MUTANTS.update({
    "remove_columns": Mutant("remove_heads", remove_columns, "columns of those heads were zeroed"),
    "remove_one_row": Mutant("remove_heads", remove_one_row, "one row per head was zeroed"),
    "remove_strided": Mutant("remove_heads", remove_strided, "a stride of num_heads"),
    "remove_the_others": Mutant("remove_heads", remove_the_others, "every head but the given ones"),
    "remove_in_place": Mutant("remove_heads", remove_in_place, "in place"),
    "remove_unchecked": Mutant("remove_heads", remove_unchecked, "expected a ValueError"),
    "remove_no_range_check": Mutant("remove_heads", remove_no_range_check, "head 8 does not exist"),
    "remove_on_cpu": Mutant("remove_heads", remove_on_cpu, "device"),
    "form_head_sense": Mutant("answer_form_head", SENSE_HEAD, "the sense needs most"),
    "form_head_first": Mutant("answer_form_head", 0, "drops the held-out form accuracy"),
    "form_head_out_of_range": Mutant("answer_form_head", 8, "a head index"),
    "removable_all": Mutant("answer_removable", 8, "not every head can go"),
    "removable_none": Mutant("answer_removable", 0, "most can go"),
    "removable_off_by_one": Mutant("answer_removable", REMOVABLE + 1, "at 0.99 or more"),
    "removable_text": Mutant("answer_removable", "four", "one int"),
    "one_head_parameters": Mutant("answer_one_head", "b", "same number of parameters"),
    "one_head_width": Mutant("answer_one_head", "c", "Width is not what it lacks"),
    "one_head_steps": Mutant("answer_one_head", "d", "more steps do not help"),
    "one_head_word": Mutant("answer_one_head", "one softmax", "one letter"),
})
VISIBLE += ["remove_columns", "remove_one_row", "remove_strided", "remove_the_others", "remove_no_range_check",
            "one_head_word", "form_head_out_of_range", "removable_text"]
ALTERNATIVES["remove_heads"] = [remove_heads_view]


# issue 27: questions that apply an idea to new sizes, and questions read from a measurement
CORRECT.update({
    "answer_same_word": "a",
})
MUTANTS.update({
    "same_word_neighbours": Mutant("answer_same_word", "b", "their neighbours are not different"),
    "same_word_luck": Mutant("answer_same_word", "c", "need no luck"),
    "same_word_as_word": Mutant("answer_same_word", "same", "one letter"),
})
VISIBLE += ["same_word_as_word"]
