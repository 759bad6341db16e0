"""Forward speed of mhsa_ref's layer against torch.nn.MultiheadAttention, measured in one run.

CPU (always): B=8, T=256, d_model=512, h=8, float32, eval mode, no autograd. Each mhsa_ref path is
compared with the PyTorch call that does the same work:

* explicit (returns the (B, h, T, T) weights) vs nn.MultiheadAttention(need_weights=True,
  average_attn_weights=False), which also materialises them;
* fused (no weights) vs nn.MultiheadAttention(need_weights=False), which takes PyTorch's fused path.

CUDA (when available): the same layer at larger sizes in float32 (TF32 off) and bf16, with achieved
TFLOP/s by the FLOP formula of chapter 08 (mhsa_ref.attention_flops).

Times are medians of torch.utils.benchmark's blocked_autorange, taken in interleaved rounds. Usage:
    python benchmarks/bench_attention.py            # full run, prints a table
    python benchmarks/bench_attention.py --smoke    # tiny sizes, to check the script itself runs
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils import benchmark

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mhsa_ref  # noqa: E402
from mhsa_ref.backend import machine  # noqa: E402

TARGETS = {"explicit": 1.3, "fused": 1.05}


@dataclass
class Row:
    device: str
    dtype: str
    shape: str
    name: str
    median_ms: float
    baseline: str = ""
    ratio: float | None = None
    target: float | None = None
    tflops: float | None = None


def layers(d_model: int, heads: int, device: str, dtype: torch.dtype):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(d_model, heads, batch_first=True, device=device, dtype=dtype).eval()
    with torch.no_grad():  # non-zero biases, as in the equality tests
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    return mha, mhsa_ref.MultiHeadSelfAttention.from_torch(mha).eval()


def median_ms(fn, min_run_time: float) -> float:
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3


def measure(device: str, dtype: torch.dtype, B: int, T: int, d: int, h: int, min_run_time: float,
            rounds: int) -> list[Row]:
    mha, ours = layers(d, h, device, dtype)
    x = torch.randn(B, T, d, device=device, dtype=dtype)
    candidates = {
        "mhsa_ref explicit": lambda: ours(x, need_weights=True),
        "mhsa_ref fused": lambda: ours(x, need_weights=False),
        "nn.MultiheadAttention (weights)": lambda: mha(x, x, x, need_weights=True, average_attn_weights=False),
        "nn.MultiheadAttention (fused)": lambda: mha(x, x, x, need_weights=False),
    }
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    # Candidates take turns over several rounds, so a slow spell of the machine hits all of them;
    # a ratio is the median of the per-round ratios.
    per_round: dict[str, list[float]] = {name: [] for name in candidates}
    with torch.inference_mode():
        for fn in candidates.values():
            fn()  # warm-up: allocations, kernel selection
            sync()
        for _ in range(rounds):
            for name, fn in candidates.items():
                per_round[name].append(median_ms(lambda fn=fn: (fn(), sync()), min_run_time / rounds))
    times = {name: statistics.median(ms) for name, ms in per_round.items()}
    flops = mhsa_ref.attention_flops(B, T, d, h)
    shape = f"B={B} T={T} d={d} h={h}"
    dt = str(dtype).replace("torch.", "")
    pairs = {"mhsa_ref explicit": ("nn.MultiheadAttention (weights)", "explicit"),
             "mhsa_ref fused": ("nn.MultiheadAttention (fused)", "fused")}
    rows = []
    for name, ms in times.items():
        row = Row(device, dt, shape, name, ms, tflops=mhsa_ref.achieved_tflops(flops, ms / 1e3))
        if name in pairs:
            base, kind = pairs[name]
            ratios = [a / b for a, b in zip(per_round[name], per_round[base])]
            row.baseline, row.ratio, row.target = base, statistics.median(ratios), TARGETS[kind]
        rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    head = "| device | dtype | shape | implementation | median ms | TFLOP/s | vs | ratio | target |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        ratio = f"{r.ratio:.3f}×" if r.ratio is not None else ""
        target = (f"≤ {r.target}× {'met' if r.ratio <= r.target else 'MISSED'}") if r.target else ""
        lines.append(f"| {r.device} | {r.dtype} | {r.shape} | {r.name} | {r.median_ms:.2f} | "
                     f"{r.tflops:.3f} | {r.baseline} | {ratio} | {target} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and short timing, to test the script")
    args = parser.parse_args(argv)
    run_time, rounds = (0.05, 1) if args.smoke else (6.0, 7)
    cpu_size = (2, 16, 32, 4) if args.smoke else (8, 256, 512, 8)
    rows = measure("cpu", torch.float32, *cpu_size, run_time, rounds)
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        for dtype in (torch.float32, torch.bfloat16):
            sizes = [(2, 64, 128, 8)] if args.smoke else [(8, 1024, 1024, 16), (4, 4096, 1024, 16)]
            for size in sizes:
                rows += measure("cuda", dtype, *size, run_time, rounds)
    print(f"{datetime.date.today()} · {machine()}")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
