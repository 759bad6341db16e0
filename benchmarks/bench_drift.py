"""How far a training run drifts between CPUs, beside how far a real change moves it.

    python benchmarks/bench_drift.py [--runs word2vec,elmo,trained_heads] [--json out.json]

A trained model is not bit for bit the same on another x86-64 CPU: PyTorch, MKL and oneDNN pick
their float32 kernels by the instruction sets they find (AVX-512, AVX2, SSE), and a different
kernel adds in a different order. After thousands of Adam steps those last bits have grown. This
script trains each of the course's stored runs in fresh processes:

* as other CPUs would: forcing the kernels of another instruction set (ATEN_CPU_CAPABILITY,
  MKL_ENABLE_INSTRUCTIONS, ONEDNN_MAX_CPU_ISA; an AVX2-only machine, one without AVX) and other
  thread counts;
* with a real change, on this machine's kernels: another seed, one step (or epoch) fewer, a
  learning rate 10 % higher, a changed loss (an L2 term on word2vec's vectors, label smoothing 0.05
  for the biLM and the encoder).

It prints, for each, the largest difference from this machine's own run: of the weights, of every
number the stored run keeps, and of what the chapters print. The tests' tolerances
(tests/drift.py) sit between the two groups: well above every drift, well below every change.
Settings a CPU cannot run are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

# name -> environment: each forces the kernels another CPU would choose
MACHINES = {
    "AVX2 kernels": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "SSE4 kernels (no AVX)": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                              "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "1 thread": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "AVX2 kernels, 4 threads": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                                "ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": "4"},
}
CHANGES = ("seed", "steps", "lr", "loss")

# Run in a fresh interpreter for each setting: the kernels are chosen when torch is imported.
CHILD = r"""
import sys, torch
sys.path.insert(0, sys.argv[4])
import bench_drift
which, change, out = sys.argv[1], sys.argv[2], sys.argv[3]
record = bench_drift.RUNS[which](None if change == "-" else change)
if record is None:
    sys.exit("no such change for this run")
record["capability"] = torch.backends.cpu.get_cpu_capability()
torch.save(record, out)
"""


def _word2vec(change: str | None) -> dict:
    from mhsa_ref import word2vec
    from mhsa_ref.figures import NoProgress

    kw = {"seed": {"seed": 1}, "steps": {"epochs": 4}, "lr": {"lr": 0.011},
          "loss": {"loss_fn": lambda c, o, n: word2vec.sgns_loss(c, o, n) + 1e-3 * c.pow(2).sum(-1).mean()},
          None: {}}[change]
    model = word2vec.train_word2vec(word2vec.training_sentences(), tqdm_class=NoProgress, **kw)
    printed = {"neighbours": {w: model.neighbours(w, 5) for w in ("cat", "bread", "dream", "bank", "river")}}
    return {"weights": {"vectors": model.vectors}, "numbers": {"last loss": model.losses[-1]}, "printed": printed}


def _elmo(change: str | None) -> dict:
    import functools

    from mhsa_ref import elmo
    from mhsa_ref.figures import NoProgress

    if change == "loss":
        elmo.F.cross_entropy = functools.partial(elmo.F.cross_entropy, label_smoothing=0.05)
    kw = {"seed": {"seed": 1}, "steps": {"epochs": 5}, "lr": {"lr": 0.011}, "loss": {}, None: {}}[change]
    model = elmo.train_elmo(elmo.training_sentences(), tqdm_class=NoProgress, **kw)
    vectors = model.vectors("I have a dream".split())
    return {"weights": dict(model.model.state_dict()), "numbers": {"last loss": model.losses[-1]},
            "vectors": {"I have a dream": vectors}}


def _trained_heads(change: str | None) -> dict:
    from mhsa_ref import trained_heads

    if change == "loss":
        smoothed = trained_heads.nn.CrossEntropyLoss
        trained_heads.nn.CrossEntropyLoss = lambda: smoothed(label_smoothing=0.05)
    lr = trained_heads.stored()["chosen_lr"]["1"]  # the stored run: h = 1, seed 0, at its chosen rate
    kw = {"seed": {"seed": 1}, "steps": {"steps": trained_heads.STEPS - 1}, "lr": {"lr": 1.1 * lr}}.get(change, {})
    trained = trained_heads.train(1, **{"seed": 0, "lr": lr, **kw})
    numbers = {k: v for k, v in trained_heads.evaluate(trained).items()}
    return {"weights": dict(trained.model.state_dict()), "numbers": numbers}


def _two_places(change: str | None) -> dict:
    from mhsa_ref import trained_heads

    # the stored run the test trains again: one head, seed 0, whose error settles at its plateau (a run that
    # reaches 1e-5, as two heads do, ends in Adam's noise, where another CPU's last bits decide the last digits)
    lr = next(c["lr"] for c in trained_heads.stored_two_places()["chosen_lr"]
              if c["target"] == "two numbers" and c["num_heads"] == 1)
    if change == "loss":
        return None  # the loss is the task's squared error, written inline: no other loss to swap in
    kw = {"seed": {"seed": 1}, "steps": {"steps": trained_heads.TWO_STEPS - 1}, "lr": {"lr": 1.1 * lr}}.get(change, {})
    run = trained_heads.train_two_places(1, **{"seed": 0, "lr": lr, **kw})
    curve = dict(run.curves["held-out"])
    return {"weights": dict(run.model.state_dict()),
            "numbers": {f"error at step {s}": curve.get(s, float("nan")) for s in (250, 1000, 2000)}}


RUNS = {"word2vec": _word2vec, "elmo": _elmo, "trained_heads": _trained_heads, "two_places": _two_places}


def differences(a: dict, b: dict) -> dict[str, float | str]:
    """The largest |difference| of two records of one run: weights (over every tensor), each number, what is printed."""
    out: dict[str, float | str] = {"weights": max(float((a["weights"][k].double() - b["weights"][k].double()).abs().max())
                                                  for k in a["weights"])}
    out.update({k: abs(a["numbers"][k] - b["numbers"][k]) for k in a["numbers"]})
    for name, vectors in a.get("vectors", {}).items():
        out[f"vectors of {name!r}"] = float((vectors.double() - b["vectors"][name].double()).abs().max())
    if "printed" in a:
        same = all([w for w, _ in a["printed"]["neighbours"][q]] == [w for w, _ in b["printed"]["neighbours"][q]]
                   for q in a["printed"]["neighbours"])
        gap = max(abs(x - y) for q in a["printed"]["neighbours"]
                  for (_, x), (_, y) in zip(a["printed"]["neighbours"][q], b["printed"]["neighbours"][q]))
        out["neighbours"] = "same words" if same else "other words"
        out["neighbour cosines"] = gap
    return out


def train_in(which: str, change: str | None, setting: dict, folder: Path) -> dict | None:
    import torch

    out = folder / f"{which}-{change}-{len(list(folder.iterdir()))}.pt"
    env = {**os.environ, **setting, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, which, change or "-", str(out), str(HERE)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        print(f"    skipped: {lines[-1] if lines else done.returncode}")
        return None
    return torch.load(out, weights_only=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=",".join(RUNS), help="which stored runs to train")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)
    from mhsa_ref.backend import machine

    print(f"machine: {machine()}")
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for which in args.runs.split(","):
            print(f"{which}: training it {1 + len(MACHINES) + len(CHANGES)} times ...", flush=True)
            base = train_in(which, None, {}, Path(tmp))
            rows = {}
            for name, setting in MACHINES.items():
                if (record := train_in(which, None, setting, Path(tmp))) is not None:
                    rows[f"drift: {name} ({record['capability']})"] = differences(base, record)
            for change in CHANGES:
                if (record := train_in(which, change, {}, Path(tmp))) is not None:
                    rows[f"change: {change}"] = differences(base, record)
            table[which] = {"native kernels": base["capability"], "rows": rows}
            columns = list(next(iter(rows.values())))
            print(f"\n{which}, largest |difference| from this machine's own run ({base['capability']} kernels):\n")
            print("| run | " + " | ".join(columns) + " |")
            print("|---|" + "---|" * len(columns))
            for name, row in rows.items():
                print(f"| {name} | " + " | ".join(v if isinstance(v, str) else f"{v:.1e}" for v in row.values()) + " |")
            print()
    if args.json:
        args.json.write_text(json.dumps(table, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
