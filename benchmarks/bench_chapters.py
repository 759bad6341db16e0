"""How long each chapter takes to execute, against the 30 s budget of a chapter.

Each chapter (a MyST Markdown notebook) is read the way the book reads it (myst-nb) and executed in
a fresh kernel with nbclient, as `jupyter-book build` does on a cache miss; kernel start-up is
included. The median of `--repeats` runs is compared with the budget.

`--sweep` also times chapter 09's sweep, `python -m mhsa_ref.trained_heads --sweep`, against its
10-minute budget, writing to a temporary folder (the shipped results stay as they are).

    python benchmarks/bench_chapters.py [--repeats 2] [--sweep] [chapters/01_one_hot.md ...]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbclient
from myst_nb.core.read import read_myst_markdown_notebook

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 30.0
SWEEP_BUDGET_S = 600.0


def execute(chapter: Path) -> float:
    notebook = read_myst_markdown_notebook(chapter.read_text(encoding="utf-8"))
    start = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(chapter.parent)}}).execute()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sweep", action="store_true", help="also time chapter 09's sweep (about 6 minutes)")
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
    swept = True
    if args.sweep:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mhsa_ref.trained_heads", "--sweep", "--out",
                            str(Path(tmp) / "trained_heads.json")], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
        swept = seconds < SWEEP_BUDGET_S
        print(f"\n| command | s | share of the 600 s budget | target |\n|---|---|---|---|\n"
              f"| python -m mhsa_ref.trained_heads --sweep | {seconds:.0f} | {seconds / SWEEP_BUDGET_S:.2f}× | "
              f"{'met' if swept else 'MISSED'} |")
    return 0 if worst < BUDGET_S and swept else 1


if __name__ == "__main__":
    sys.exit(main())
