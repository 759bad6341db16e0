"""How long `make` takes when nothing changed, against a `make` that must redo its steps.

The alternative is what a Makefile without file targets would do on every run: with the stamps of
_build/stamps removed, `make` regenerates the exercises, rebuilds the site (the execution cache
still spares re-running the chapters) and autogrades the demo class again. Both are measured in
the same run; run it after a first `make`.

    python benchmarks/bench_make.py [--repeats 3]

With --clean it measures a clean `make` after the install instead (`make clean`, which keeps
.venv, then `make`): each step as make runs it (exercises, the book, the demo class's grading, the
report) and every chapter's execution time as the book build logged it, against the targets (the
whole under 4 minutes, the demo grading under 30 s, each chapter under 30 s). With --busy a
second process keeps one core busy all along, as on a machine that also runs something else:

    python benchmarks/bench_make.py --clean [--busy]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def timed_make() -> float:
    start = time.perf_counter()
    subprocess.run(["make"], cwd=ROOT, env=make_env(), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _spin() -> None:
    while True:
        pass


def clean_make(busy: bool) -> int:
    """`make clean`, then the steps of `make` one by one, each timed; chapter times from the build log."""
    spinner = multiprocessing.Process(target=_spin, daemon=True) if busy else None
    subprocess.run(["make", "clean"], cwd=ROOT, env=make_env(), check=True, stdout=subprocess.DEVNULL)
    if spinner:
        spinner.start()
    steps, log = {}, ""
    try:
        for step, target in (("exercises", "exercises"), ("book", "book"), ("demo grading", "grade-demo"),
                             ("report", "all")):
            start = time.perf_counter()
            result = subprocess.run(["make", target], cwd=ROOT, env=make_env(), check=True, capture_output=True,
                                    text=True)
            steps[step] = time.perf_counter() - start
            log += result.stdout + result.stderr
    finally:
        if spinner:
            spinner.terminate()
    total = sum(steps.values())
    print(f"clean `make` after the install; second core busy: {'yes' if busy else 'no'}")
    print()
    print("| step | s | target |")
    print("|---|---|---|")
    for step, seconds in steps.items():
        target = "< 30 s " + ("met" if seconds < 30 else "MISSED") if step == "demo grading" else ""
        print(f"| {step} | {seconds:.1f} | {target} |")
    print(f"| whole `make` | {total:.1f} | < 240 s {'met' if total < 240 else 'MISSED'} |")
    print()
    print("| chapter | executed in s (build log) | target |")
    print("|---|---|---|")
    chapters = re.findall(r"chapters/(\w+)\.md: Executed notebook in ([\d.]+) seconds", log)
    for name, seconds in chapters:
        print(f"| {name} | {float(seconds):.1f} | < 30 s {'met' if float(seconds) < 30 else 'MISSED'} |")
    met = total < 240 and steps["demo grading"] < 30 and all(float(s) < 30 for _, s in chapters) and chapters
    return 0 if met else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clean", action="store_true", help="time a clean make after the install, step by step")
    parser.add_argument("--busy", action="store_true", help="with --clean: keep one core busy all along")
    args = parser.parse_args(argv)
    if args.clean:
        return clean_make(args.busy)
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
