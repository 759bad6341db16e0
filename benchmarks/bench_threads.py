"""Training the small word models on one thread (what the library does) against PyTorch's default threads.

`mhsa_ref.backend.small_model_threads` pins the word2vec and biLM work to one thread. The
alternative is PyTorch's default thread count. Both are timed in the same run, interleaved, on an
idle machine and, with `--busy`, while a second process keeps one core busy (as a test run or a
second notebook does).

    python benchmarks/bench_threads.py [--repeats 2] [--busy]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import multiprocessing
import statistics
import sys
import time
from unittest import mock

import torch
import tqdm

from mhsa_ref import corpus, elmo, word2vec

QUIET = functools.partial(tqdm.tqdm, disable=True)


def _spin() -> None:
    while True:
        pass


def timed(train, default_threads: bool) -> float:
    """Seconds for `train()`; with default_threads, the trainers' one-thread pin is switched off."""
    with contextlib.ExitStack() as stack:
        if default_threads:  # the trainers imported the name, so patch it where they look it up
            for module in (word2vec, elmo):
                stack.enter_context(mock.patch.object(module, "small_model_threads", contextlib.nullcontext))
        start = time.perf_counter()
        train()
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--busy", action="store_true", help="keep one core busy with a second process")
    args = parser.parse_args(argv)
    sentences = corpus.sentences()
    jobs = {
        "word2vec (train_word2vec)": lambda: word2vec.train_word2vec(sentences, tqdm_class=QUIET),
        "biLM (train_elmo)": lambda: elmo.train_elmo(sentences, tqdm_class=QUIET),
    }
    spinner = multiprocessing.Process(target=_spin, daemon=True) if args.busy else None
    if spinner:
        spinner.start()
    try:
        print(f"machine: {torch.get_num_threads()} default threads; second process busy: {'yes' if args.busy else 'no'}")
        print("| job | one thread (s) | default threads (s) | ratio one / default |")
        print("|---|---|---|---|")
        for name, train in jobs.items():
            one, default = [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                one.append(timed(train, default_threads=False))
                default.append(timed(train, default_threads=True))
            a, b = statistics.median(one), statistics.median(default)
            print(f"| {name} | {a:.1f} | {b:.1f} | {a / b:.2f}× |")
    finally:
        if spinner:
            spinner.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
