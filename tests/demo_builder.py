"""Builds the demo class of tests/demo_submissions/ from the learner copies in exercises/.

Each demo learner is the released notebook with its solution cells filled in, as a learner would
fill them: `ada` correctly (in her own way), `ben` with two typical mistakes. `make` autogrades
them; tests/test_pipeline.py rebuilds them and fails if the committed copies drifted from the
release. Run `python tests/demo_builder.py` after changing an exercise.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "tests" / "demo_submissions"

# learner -> assignment -> solution cell grade_id -> the code the learner wrote
ANSWERS: dict[str, dict[str, dict[str, str]]] = {
    "ada": {
        "04_attention": {
            "softmax": '''\
def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax of `x` along `dim`; an all -inf slice gives zeros."""
    m = x.max(dim=dim, keepdim=True).values
    m = torch.where(m == float("-inf"), torch.zeros_like(m), m)
    e = torch.exp(x - m)
    s = e.sum(dim=dim, keepdim=True)
    return torch.where(s == 0, torch.zeros_like(e), e / s)''',
            "scaled_dot_product_attention": '''\
def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q kᵀ / √d_k) v. q (..., T, d_k), k (..., S, d_k), v (..., S, d_v); mask True = may attend."""
    d_k = q.size(-1)
    scores = torch.matmul(q, k.transpose(-1, -2)) / d_k ** 0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.full_like(scores, float("-inf")))
    w = softmax(scores)
    return torch.matmul(w, v), w''',
        },
    },
    "ben": {
        "04_attention": {
            # Mistake 1: no max subtraction, so exp overflows and an all -inf row gives NaN.
            "softmax": '''\
def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax of `x` along `dim`; an all -inf slice gives zeros."""
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)''',
            # Mistake 2: scaled by 1/d_k instead of 1/sqrt(d_k).
            "scaled_dot_product_attention": '''\
def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q kᵀ / √d_k) v. q (..., T, d_k), k (..., S, d_k), v (..., S, d_v); mask True = may attend."""
    scores = q @ k.transpose(-2, -1) / q.shape[-1]
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = softmax(scores, dim=-1)
    return weights @ v, weights''',
        },
    },
}


def build(learner: str, assignment: str) -> nbformat.NotebookNode:
    """The released notebook of `assignment` with `learner`'s answers in its solution cells."""
    release = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    nb = copy.deepcopy(release)
    answers = ANSWERS[learner][assignment]
    filled = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
            filled.add(grade_id)
    missing = set(answers) - filled
    if missing:
        raise KeyError(f"{assignment} has no solution cells named {sorted(missing)}; update ANSWERS")
    return nb


def path_of(learner: str, assignment: str) -> Path:
    return DEMO_DIR / learner / assignment / f"{assignment}.ipynb"


def main() -> None:
    for learner, assignments in ANSWERS.items():
        for assignment in assignments:
            out = path_of(learner, assignment)
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(build(learner, assignment), out)
            print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
