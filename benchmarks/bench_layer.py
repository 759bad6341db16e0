"""Chapter 08's measured tables: the explicit layer against the fused one as T grows, on this machine.

For every sequence length T, in one run and in interleaved rounds:

* the forward time of three paths, and each one's ratio to the fused path: `mhsa_ref.multi_head_self_attention`
  (explicit: the course's own code, which materialises the (B, h, T, T) scores and weights with the
  course's softmax), the same layer through PyTorch's SDPA *math* backend (`sdpa_kernel(SDPBackend.MATH)`:
  it also materialises the scores, with PyTorch's softmax), and `mhsa_ref.fused_multi_head_self_attention`
  (one call to `F.scaled_dot_product_attention`, whose kernel never holds the scores). Explicit against
  math measures the course's softmax and bookkeeping; math against fused measures materialising the
  scores;
* achieved TFLOP/s by chapter 08's formula (`mhsa_ref.attention_flops`), as a fraction of the
  device's peak, itself measured here with a large matrix product in the same dtype;
* on CUDA, the peak memory each path allocated, next to the size of one score matrix
  (`mhsa_ref.attention_score_bytes`); a path that runs out of memory is recorded as such.

CPU: float32, B=1, d_model=512, h=8, T = 256 … 2048. CUDA (when present): float32 with TF32 off and
bfloat16, B=4, d_model=1024, h=16, T = 1024 … 16384.

The table is printed and written as JSON to benchmarks/results/layer_<cpu|cuda>.json, which
chapter 08 reads, so a site built on a machine without a GPU still shows the GPU numbers recorded
on one, with their machine and date. Usage:
    python benchmarks/bench_layer.py            # the full run for every device present
    python benchmarks/bench_layer.py --smoke    # tiny sizes; writes nothing unless --out is given
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils import benchmark

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import mhsa_ref  # noqa: E402
from mhsa_ref.concat_and_output import fused_multi_head_self_attention, multi_head_self_attention  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from mhsa_ref.backend import machine  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SIZES = {"cpu": dict(B=1, d=512, h=8, Ts=(256, 512, 1024, 2048), dtypes=(torch.float32,)),
         "cuda": dict(B=4, d=1024, h=16, Ts=(1024, 4096, 16384), dtypes=(torch.float32, torch.bfloat16))}
SMOKE = dict(B=1, d=32, h=4, Ts=(16, 32))


def math_multi_head_self_attention(x, w_q, w_k, w_v, w_o, num_heads):
    """The layer through PyTorch's SDPA math backend: the scores materialised, as on the explicit path, but with
    PyTorch's own softmax and fused bookkeeping."""
    q, k, v = (mhsa_ref.split_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))  # (B, h, T, d_k) each
    with sdpa_kernel(SDPBackend.MATH):
        z = F.scaled_dot_product_attention(q, k, v)  # (B, h, T, d_k)
    return mhsa_ref.merge_heads(z) @ w_o  # (B, T, d_model)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _median_s(fn, device: str, min_run_time: float) -> float:
    timer = benchmark.Timer(stmt="fn(); sync()", globals={"fn": fn, "sync": lambda: _sync(device)},
                            num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def peak_tflops(device: str, dtype: torch.dtype, n: int, min_run_time: float) -> float:
    """The device's dense matmul throughput in `dtype`: an (n, n) @ (n, n) product, 2·n³ FLOPs."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    a @ b
    _sync(device)
    return 2 * n**3 / _median_s(lambda: a @ b, device, min_run_time) / 1e12


def _peak_memory(fn, device: str) -> int | None:
    if device != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def measure(device: str, dtype: torch.dtype, B: int, T: int, d: int, h: int, *, min_run_time: float,
            rounds: int, peak: float) -> list[dict]:
    g = torch.Generator().manual_seed(T)
    x = torch.randn(B, T, d, generator=g).to(device, dtype)
    ws = [(torch.randn(d, d, generator=g) / d**0.5).to(device, dtype) for _ in range(4)]
    paths = {"explicit": lambda: multi_head_self_attention(x, *ws, h),
             "sdpa math": lambda: math_multi_head_self_attention(x, *ws, h),
             "fused": lambda: fused_multi_head_self_attention(x, *ws, h)}
    flops = mhsa_ref.attention_flops(B, T, d, h)
    rows = {name: dict(device=device, dtype=str(dtype)[6:], B=B, T=T, d_model=d, heads=h, path=name, flops=flops,
                       score_bytes=mhsa_ref.attention_score_bytes(B, T, h, dtype), times_s=[], peak_memory_bytes=None,
                       error=None) for name in paths}
    with torch.inference_mode():
        for name, fn in paths.items():
            try:
                rows[name]["peak_memory_bytes"] = _peak_memory(fn, device)
                fn()
                _sync(device)
            except torch.OutOfMemoryError:
                rows[name]["error"] = "out of memory"
                torch.cuda.empty_cache()
        for _ in range(rounds):  # interleaved: a slow spell of the machine hits both paths
            for name, fn in paths.items():
                if rows[name]["error"] is None:
                    rows[name]["times_s"].append(_median_s(fn, device, min_run_time / rounds))
    for row in rows.values():
        if row["times_s"]:
            row["median_ms"] = statistics.median(row["times_s"]) * 1e3
            row["tflops"] = mhsa_ref.achieved_tflops(flops, row["median_ms"] / 1e3)
            row["fraction_of_peak"] = row["tflops"] / peak
    fused = rows["fused"]
    for name in ("explicit", "sdpa math"):  # each path's time over the fused one's, round by round
        if rows[name]["times_s"] and fused["times_s"]:
            rows[name]["ratio_to_fused"] = statistics.median(a / b for a, b in zip(rows[name]["times_s"], fused["times_s"]))
    return list(rows.values())


def run(device: str, *, smoke: bool) -> dict:
    sizes = {**SIZES[device], **(SMOKE if smoke else {})}
    min_run_time, rounds = (0.05, 1) if smoke else (1.5, 3)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    result = dict(date=str(datetime.date.today()), machine=machine(), device=device,
                  device_name=torch.cuda.get_device_name() if device == "cuda" else "CPU", peak_tflops={}, rows=[])
    for dtype in sizes["dtypes"]:
        n = 256 if smoke else (8192 if device == "cuda" else 2048)
        peak = peak_tflops(device, dtype, n, min_run_time * 2)
        result["peak_tflops"][str(dtype)[6:]] = peak
        for T in sizes["Ts"]:
            result["rows"] += measure(device, dtype, sizes["B"], T, sizes["d"], sizes["h"], min_run_time=min_run_time,
                                      rounds=rounds, peak=peak)
    return result


def table(result: dict) -> str:
    lines = ["| dtype | B | T | d_model | h | path | median ms | TFLOP/s | of peak | ÷ fused | peak memory | "
             "one score matrix |", "|" + "---|" * 12]
    for r in result["rows"]:
        if r["error"]:
            timing = f"{r['error']} | | | |"
        else:
            ratio = f"{r['ratio_to_fused']:.2f}×" if "ratio_to_fused" in r else ""
            timing = f"{r['median_ms']:.2f} | {r['tflops']:.3f} | {r['fraction_of_peak']:.0%} | {ratio} |"
        memory = f"{r['peak_memory_bytes'] / 2**20:,.0f} MiB" if r["peak_memory_bytes"] is not None else "n/a"
        lines.append(f"| {r['dtype']} | {r['B']} | {r['T']} | {r['d_model']} | {r['heads']} | {r['path']} | {timing} "
                     f"{memory} | {r['score_bytes'] / 2**20:,.1f} MiB |")
    peaks = ", ".join(f"{dt} {p:.2f} TFLOP/s" for dt, p in result["peak_tflops"].items())
    return f"{result['date']} · {result['machine']}\nmeasured matmul peak: {peaks}\n\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and short timing, to test the script")
    parser.add_argument("--out", type=Path, help="folder for the JSON results (default benchmarks/results; "
                                                 "--smoke writes only where --out says)")
    args = parser.parse_args(argv)
    out = args.out or (None if args.smoke else RESULTS)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        result = run(device, smoke=args.smoke)
        print(table(result), end="\n\n")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"layer_{device}.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
