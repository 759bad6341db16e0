"""How long `make` takes when nothing changed, against a `make` that must redo its steps.

The alternative is what a Makefile without file targets would do on every run: with the stamps of
_build/stamps removed, `make` regenerates the exercises, rebuilds the site (the execution cache
still spares re-running the chapters) and autogrades the demo class again. Both are measured in
the same run; run it after a first `make`.

    python benchmarks/bench_make.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_make() -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    start = time.perf_counter()
    subprocess.run(["make"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    timed_make()  # make sure everything is built
    unchanged = [timed_make() for _ in range(args.repeats)]
    redo = []
    for _ in range(args.repeats):
        shutil.rmtree(ROOT / "_build" / "stamps")
        redo.append(timed_make())
    a, b = statistics.median(unchanged), statistics.median(redo)
    print("| run | median s | ratio | target |")
    print("|---|---|---|---|")
    print(f"| no-change `make` | {a:.1f} | {a / b:.2f}× of the redo | < 30 s {'met' if a < 30 else 'MISSED'} |")
    print(f"| `make` without stamps (redo every step) | {b:.1f} | 1 | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
