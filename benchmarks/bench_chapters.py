"""How long each chapter takes to execute, against the 30 s budget of a chapter.

Each chapter (a MyST Markdown notebook) is read the way the book reads it (myst-nb) and executed in
a fresh kernel with nbclient, as `jupyter-book build` does on a cache miss; kernel start-up is
included. The median of `--repeats` runs is compared with the budget.

    python benchmarks/bench_chapters.py [--repeats 2] [chapters/01_one_hot.md ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import nbclient
from myst_nb.core.read import read_myst_markdown_notebook

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 30.0


def execute(chapter: Path) -> float:
    notebook = read_myst_markdown_notebook(chapter.read_text(encoding="utf-8"))
    start = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(chapter.parent)}}).execute()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    chapters = args.chapters or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))
    print("| chapter | runs (s) | median s | share of the 30 s budget | target |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for chapter in chapters:
        runs = [execute(chapter) for _ in range(args.repeats)]
        median = statistics.median(runs)
        worst = max(worst, median)
        print(f"| {chapter.stem} | {', '.join(f'{r:.1f}' for r in runs)} | {median:.1f} | "
              f"{median / BUDGET_S:.2f}× | {'met' if median < BUDGET_S else 'MISSED'} |")
    return 0 if worst < BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
