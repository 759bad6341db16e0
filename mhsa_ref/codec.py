"""Values as JSON and raw bytes, nothing ever unpickled: what crosses the grading sandbox's wall.

The learner environment stores the reference's answers in this encoding (`withheld`), and the
grader (the `grader` package, which imports this module; this one imports no grader) carries values
across the sandbox's wall in it, both ways. The judge sends a learner's function its arguments (`grader.sandboxed.remote`) and gets back what it
returned: tensors as raw bytes with their dtype, shape and device, numbers, strings, tuples, dicts,
the structure and weights of an `nn.Module`, or the exception raised, and, for inputs that require
gradients, the Jacobians of the result. Tensors are read back with `torch.frombuffer` under an
allowlist of dtypes and exception types; a malformed value raises `TraceError` and the cell scores 0
with a flag.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from mhsa_ref.checks._core import GraderError, _bytes, _input_tensors

MAX_TENSOR_BYTES = 64 * 2**20  # per tensor; a result larger than that is not an answer to these checks
MAX_EXTRA_PARAMETERS = 2**22  # a learner module's parameters outside its nn.Linear layers (counted, never used)
DTYPES = {str(d).removeprefix("torch."): d for d in (torch.float16, torch.bfloat16, torch.float32, torch.float64,
                                                     torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64,
                                                     torch.bool, torch.complex64)}
EXCEPTIONS = {e.__name__: e for e in (ValueError, TypeError, RuntimeError, IndexError, KeyError, AssertionError,
                                      ZeroDivisionError, NotImplementedError, AttributeError, NameError,
                                      OverflowError, ArithmeticError, LookupError, RecursionError, MemoryError,
                                      UnboundLocalError, StopIteration, SystemExit, KeyboardInterrupt)}


class TraceError(GraderError):
    """The learner's recorded run is missing, malformed, or does not answer the grader's own inputs."""


# --- encoding --------------------------------------------------------------------------------------


def encode(value: Any, depth: int = 0, *, whole: bool = False) -> dict:
    """A JSON-able description of `value` that `decode` turns back into an equal value.

    whole: the judge's own arguments, sent whole (sequences of any length) and with the
    `requires_grad` of each tensor; a learner's results are cut at 64 items (then refused).
    """
    if depth > 8:
        return {"opaque": "deeply nested value"}
    if isinstance(value, Tensor):
        out = _encode_tensor(value)
        if whole and value.requires_grad:
            out["grad"] = True
        return out
    if value is None or isinstance(value, (bool, str)):
        return {"v": value}
    if isinstance(value, int):
        return {"int": str(value)}  # exact, whatever its size
    if isinstance(value, float):
        return {"float": repr(value)}  # inf and nan too
    if isinstance(value, (tuple, list)):
        kept = value if whole else value[:64]
        return {"seq": [encode(v, depth + 1, whole=whole) for v in kept], "kind": type(value).__name__,
                "length": len(value)}
    if whole and isinstance(value, Iterator):  # a check's generator (tokens read once): sent as the items it yields
        items = list(value)
        return {"seq": [encode(v, depth + 1, whole=whole) for v in items], "kind": "iterator", "length": len(items)}
    if isinstance(value, dict):
        return {"dict": [[encode(k, depth + 1, whole=whole), encode(v, depth + 1, whole=whole)]
                         for k, v in list(value.items())[:10000]], "length": len(value)}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {"torch_device": str(value)}
    if isinstance(value, nn.Module):
        return _encode_module(value)
    return {"opaque": type(value).__name__}


def _encode_tensor(t: Tensor) -> dict:
    dtype = str(t.dtype).removeprefix("torch.")
    out = {"tensor": dtype, "shape": list(t.shape), "device": t.device.type}
    if t.device.type != "meta":
        data = t.detach().to("cpu").contiguous()
        raw = data.reshape(-1).view(torch.uint8) if data.numel() else torch.empty(0, dtype=torch.uint8)
        if raw.numel() > MAX_TENSOR_BYTES:
            return {"opaque": f"tensor of {raw.numel()} bytes"}
        out["data"] = base64.b64encode(raw.numpy().tobytes()).decode()
    return out


def _encode_module(module: nn.Module) -> dict:
    linears = {}
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            linears[name] = {"in": child.in_features, "out": child.out_features,
                             "weight": _encode_tensor(child.weight), "bias": None if child.bias is None
                             else _encode_tensor(child.bias)}
    return {"module": type(module).__name__, "linears": linears,
            "parameters": sum(p.numel() for p in module.parameters())}


def decode(obj: Any) -> Any:
    if not isinstance(obj, dict) or len(obj) == 0:
        raise TraceError(f"malformed record: {str(obj)[:80]!r}")
    if "tensor" in obj:
        t = _decode_tensor(obj)
        if obj.get("grad") is True and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
        return t
    if "v" in obj:
        if obj["v"] is not None and not isinstance(obj["v"], (bool, str)):
            raise TraceError("malformed value record")
        return obj["v"]
    if "int" in obj:
        return int(obj["int"])
    if "float" in obj:
        return float(obj["float"])
    if "seq" in obj:
        items = [decode(v) for v in obj["seq"]]
        if obj.get("length") != len(items):
            raise TraceError("a recorded sequence was cut short")
        kind = obj.get("kind")
        return tuple(items) if kind == "tuple" else iter(items) if kind == "iterator" else items
    if "dict" in obj:
        pairs = [(decode(k), decode(v)) for k, v in obj["dict"]]
        if obj.get("length") != len(pairs) or not all(isinstance(k, (str, int, float, bool)) for k, _ in pairs):
            raise TraceError("malformed dict record")
        return dict(pairs)
    if "dtype" in obj:
        return _dtype(obj["dtype"])
    if "torch_device" in obj:
        name = str(obj["torch_device"])
        if name.split(":")[0] not in ("cpu", "cuda", "meta"):
            raise TraceError(f"unknown device {name[:20]!r}")
        return torch.device(name)
    if "module" in obj:
        return _decode_module(obj)
    if "opaque" in obj:
        return type(str(obj["opaque"])[:60] or "object", (), {})()  # an object of that name, with nothing in it
    raise TraceError(f"unknown record {sorted(obj)[:3]}")


def _dtype(name: object) -> torch.dtype:
    if name not in DTYPES:
        raise TraceError(f"unknown dtype {str(name)[:40]!r}")
    return DTYPES[name]


def _decode_tensor(obj: dict) -> Tensor:
    dtype = _dtype(obj["tensor"])
    shape = obj.get("shape")
    if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)) or len(shape) > 8:
        raise TraceError("malformed tensor shape")
    device = obj.get("device")
    if device == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    numel = math.prod(shape)
    size = numel * dtype.itemsize
    if size > MAX_TENSOR_BYTES:
        raise TraceError("a recorded tensor is too large")
    raw = base64.b64decode(obj.get("data", ""), validate=True)
    if len(raw) != size:
        raise TraceError(f"a recorded tensor has {len(raw)} bytes for shape {shape} of {dtype}")
    t = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape) if size else torch.empty(
        shape, dtype=dtype)
    if device == "cuda" and torch.cuda.is_available():
        t = t.cuda()
    elif device not in ("cpu", "cuda"):
        raise TraceError(f"unknown device {str(device)[:20]!r}")
    return t


class ReplayModule(nn.Module):
    """The structure and weights of a learner's module, on the judge's side; calling it runs the learner's own."""

    def __init__(self, obj: dict) -> None:
        super().__init__()
        self._class_name = str(obj["module"])[:60]
        if not isinstance(obj["linears"], dict) or len(obj["linears"]) > 64:
            raise TraceError("malformed module record")
        for name, spec in obj["linears"].items():
            if not (isinstance(name, str) and name.isidentifier() and not name.startswith("_")):
                raise TraceError("malformed module record")
            n_in, n_out = int(spec["in"]), int(spec["out"])
            weight = _decode_tensor(spec["weight"])  # sized by its bytes, before anything is allocated for it
            bias = None if spec["bias"] is None else _decode_tensor(spec["bias"])
            if tuple(weight.shape) != (n_out, n_in) or (bias is not None and tuple(bias.shape) != (n_out,)):
                raise TraceError("a module record's weights do not fit its sizes")
            linear = nn.Linear(n_in, n_out, bias=bias is not None, device="meta")
            linear.weight = nn.Parameter(weight.to(torch.float32) if not weight.is_floating_point() else weight)
            if bias is not None:
                linear.bias = nn.Parameter(bias if bias.is_floating_point() else bias.to(torch.float32))
            setattr(self, name, linear)
        extra = int(obj["parameters"]) - sum(p.numel() for p in self.parameters())
        if extra > MAX_EXTRA_PARAMETERS:
            raise TraceError("a module record counts more parameters than any exercise's module has")
        if extra > 0:  # parameters outside nn.Linear layers: counted, not needed
            self.other_parameters = nn.Parameter(torch.zeros(extra))

    def forward(self, *args, **kwargs):  # pragma: no cover - calls go through the invoker
        raise TraceError("a learner's module was called outside the grader's invoker")


def _decode_module(obj: dict) -> nn.Module:
    try:
        module = ReplayModule(obj)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise TraceError(f"malformed module record: {e}") from None
    module.__class__ = type(module._class_name if module._class_name.isidentifier() else "Module", (ReplayModule,), {})
    handle = obj.get("handle")
    module._handle = handle if isinstance(handle, int) else None
    return module


# a tensor's bytes (None on meta) and the tensors among a call's arguments: the checks' own helpers
def snapshot(t: Tensor) -> bytes | None:
    """A tensor's bytes (NaN included, unlike torch.equal), to tell whether a call changed it; None on meta."""
    return None if t.device.type == "meta" else _bytes(t)


_tensors = _input_tensors


MAX_JACOBIAN = 2**16  # entries per (result, input) pair: the checks' gradient tests use small tensors


def _results(result: Any) -> list[Tensor | None]:
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [r if isinstance(r, Tensor) else None for r in result]
    return []


def _jacobians(result: Any, inputs: list[Tensor]) -> list:
    """For each result tensor with a gradient and each input that requires one: d result / d input.

    Computed where the learner's code runs; the judge differentiates these Jacobians instead of the
    learner's code, so a check that back-propagates through a learner's result sees its own gradients.
    """
    wanted = [i for i, t in enumerate(inputs) if t.requires_grad]
    if not wanted:
        return []
    out = []
    for r, value in enumerate(_results(result)):
        if value is None or not value.requires_grad or value.grad_fn is None:
            continue
        flat = value.reshape(-1)
        entry = {"result": r, "inputs": {}}
        for i in wanted:
            if flat.numel() * inputs[i].numel() > MAX_JACOBIAN:
                raise TraceError("a result is too large to record its gradients")
        rows = {i: [] for i in wanted}
        for k in range(flat.numel()):
            grads = torch.autograd.grad(flat[k], [inputs[i] for i in wanted], retain_graph=True, allow_unused=True)
            for i, g in zip(wanted, grads):
                rows[i].append(None if g is None else g.reshape(-1))
        for i in wanted:
            if all(g is None for g in rows[i]):
                continue  # no gradient reaches this input
            jac = torch.stack([torch.zeros(inputs[i].numel(), dtype=inputs[i].dtype, device=inputs[i].device)
                               if g is None else g for g in rows[i]])
            entry["inputs"][str(i)] = encode(jac.detach())
        out.append(entry)
    return out


class _Replayed(torch.autograd.Function):
    """A learner's result whose gradients are the Jacobians sent with it (vector-Jacobian products)."""

    @staticmethod
    def forward(ctx, value, jacobians, *inputs):
        ctx.jacobians = jacobians
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output):
        grads = []
        for jac in ctx.jacobians:
            grads.append(None if jac is None else (grad_output.reshape(1, -1) @ jac).reshape(jac.shape[1:2]))
        return (None, None, *[g if g is None else g.view(-1) for g in grads])


def _with_gradients(result: Any, inputs: list[Tensor], recorded: object) -> Any:
    if not isinstance(recorded, list):
        raise TraceError("malformed gradient record")
    values = list(result) if isinstance(result, (tuple, list)) else [result]
    for entry in recorded:
        r = entry.get("result") if isinstance(entry, dict) else None
        if not isinstance(r, int) or not 0 <= r < len(values) or not isinstance(values[r], Tensor):
            raise TraceError("malformed gradient record")
        jacobians = []
        for i, t in enumerate(inputs):
            obj = entry["inputs"].get(str(i)) if t.requires_grad else None
            jac = None if obj is None else decode(obj)
            if jac is not None and jac.shape != (values[r].numel(), t.numel()):
                raise TraceError("a recorded gradient does not fit the grader's input")
            jacobians.append(None if jac is None else jac.to(t.device, t.dtype))
        replayed = _Replayed.apply(values[r].detach(), jacobians, *inputs)
        values[r] = replayed.view(values[r].shape)
    if isinstance(result, Tensor):
        return values[0]
    return type(result)(values) if isinstance(result, tuple) else values


def _exception(event: dict) -> BaseException:
    kind, message = str(event.get("raise")), str(event.get("message", ""))[:4000]
    if kind == "NotImplementedError" and event.get("bare"):
        return NotImplementedError()
    cls = EXCEPTIONS.get(kind)
    if cls is None:
        return RuntimeError(f"{kind}: {message}")
    if cls in (SystemExit, KeyboardInterrupt, StopIteration, MemoryError, RecursionError):
        return RuntimeError(f"{kind}: {message}")  # never let a record stop the judge itself
    return cls(message)


