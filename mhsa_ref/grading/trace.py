"""Record a learner's answers in one process, replay them to the judge in another: verdicts that fail closed.

Every named check reaches the learner's code only through `mhsa_ref.checks._core.call` (and
`invoke`), which hand the call to the active *invoker*:

* `Recorder` runs inside the learner's (sandboxed) process. It calls the learner's function and
  writes down a digest of the arguments the check chose and what came back: tensors as raw bytes
  with their dtype, shape and device, numbers, tuples, the structure and weights of an
  `nn.Module`, or the exception raised. The check runs on, so the calls that follow are the ones
  the judge will make too.
* `Replayer` runs in the judge, which never runs learner code. It runs the same check with a
  stand-in for the learner's function: each call must come with the arguments the judge itself
  chose (same digest, same order), and returns the recorded result. The check then compares it
  with `mhsa_ref` and decides, with its usual teaching messages. A missing, malformed, reordered or
  forged record raises `TraceError`: the cell scores 0 and is flagged.

The encoding is JSON and raw bytes, read back with `torch.frombuffer` under an allowlist of dtypes
and exception types; nothing is ever unpickled.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from typing import Any, Callable

import torch
from torch import Tensor, nn

from mhsa_ref.checks._core import CheckFailure, GraderError

MAX_TENSOR_BYTES = 64 * 2**20  # per tensor; a result larger than that is not an answer to these checks
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


def encode(value: Any, depth: int = 0) -> dict:
    """A JSON-able description of `value` that `decode` turns back into an equal value."""
    if depth > 8:
        return {"opaque": "deeply nested value"}
    if isinstance(value, Tensor):
        return _encode_tensor(value)
    if value is None or isinstance(value, (bool, str)):
        return {"v": value}
    if isinstance(value, int):
        return {"int": str(value)}  # exact, whatever its size
    if isinstance(value, float):
        return {"float": repr(value)}  # inf and nan too
    if isinstance(value, (tuple, list)):
        return {"seq": [encode(v, depth + 1) for v in value[:64]], "kind": type(value).__name__,
                "length": len(value)}
    if isinstance(value, dict):
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in list(value.items())[:10000]],
                "length": len(value)}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
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
        return _decode_tensor(obj)
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
        return tuple(items) if obj.get("kind") == "tuple" else items
    if "dict" in obj:
        pairs = [(decode(k), decode(v)) for k, v in obj["dict"]]
        if obj.get("length") != len(pairs) or not all(isinstance(k, (str, int, float, bool)) for k, _ in pairs):
            raise TraceError("malformed dict record")
        return dict(pairs)
    if "dtype" in obj:
        return _dtype(obj["dtype"])
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
    """The recorded structure and weights of a learner's module; its calls are replayed, never run."""

    def __init__(self, obj: dict) -> None:
        super().__init__()
        self._class_name = str(obj["module"])[:60]
        for name, spec in obj["linears"].items():
            if not (isinstance(name, str) and name.isidentifier() and not name.startswith("_")):
                raise TraceError("malformed module record")
            linear = nn.Linear(int(spec["in"]), int(spec["out"]), bias=spec["bias"] is not None)
            with torch.no_grad():
                linear.weight.copy_(_decode_tensor(spec["weight"]))
                if linear.bias is not None:
                    linear.bias.copy_(_decode_tensor(spec["bias"]))
            setattr(self, name, linear)
        extra = int(obj["parameters"]) - sum(p.numel() for p in self.parameters())
        if extra > 0:  # parameters outside nn.Linear layers: counted, not needed
            self.other_parameters = nn.Parameter(torch.zeros(extra))

    def forward(self, *args, **kwargs):  # pragma: no cover - calls go through the invoker
        raise TraceError("a recorded module was called outside the grader's recorder")


def _decode_module(obj: dict) -> nn.Module:
    try:
        module = ReplayModule(obj)
    except (KeyError, TypeError, ValueError) as e:
        raise TraceError(f"malformed module record: {e}") from None
    module.__class__ = type(module._class_name if module._class_name.isidentifier() else "Module", (ReplayModule,), {})
    return module


def digest(args: tuple, kwargs: dict) -> str:
    """A fingerprint of a call's arguments: what the check chose to pass (tensors by value)."""
    h = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, Tensor):
            h.update(f"T{value.dtype}{tuple(value.shape)}{value.device.type}".encode())
            if value.device.type != "meta":
                h.update(value.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, (tuple, list)):
            h.update(f"S{len(value)}".encode())
            for v in value:
                feed(v)
        elif isinstance(value, (nn.Module,)) or callable(value):
            h.update(b"F")  # the learner's own object: not the check's choice
        else:
            h.update(repr(value).encode())

    feed(args)
    for key in sorted(kwargs):
        h.update(key.encode())
        feed(kwargs[key])
    return h.hexdigest()


# --- the two invokers ------------------------------------------------------------------------------


class Recorder:
    """Inside the learner's process: call, and write down the arguments' digest and the outcome."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def invoke(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        event: dict = {"digest": digest(args, kwargs)}
        self.events.append(event)
        inputs = _tensors(args)
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            event["raise"] = type(e).__name__
            event["message"] = str(e)[:4000]
            event["bare"] = not e.args
            raise
        event["result"] = encode(result)
        if digest(args, kwargs) != event["digest"]:  # the learner's function changed its inputs in place
            event["inputs_after"] = [encode(t) for t in inputs]
        gradients = _jacobians(result, inputs)
        if gradients:
            event["jacobians"] = gradients
        return result

    def violation(self, message: str) -> None:
        if self.events:
            self.events[-1]["violation"] = message[:2000]


class Replayer:
    """In the judge: give back the recorded outcome of each call, after checking its arguments."""

    def __init__(self, events: list) -> None:
        if not isinstance(events, list):
            raise TraceError("malformed trace")
        self.events = events
        self.position = 0

    def invoke(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        if self.position >= len(self.events):
            raise TraceError("the recorded run ends before the grader's calls do (the learner's process stopped, "
                             "or the record was cut)")
        event = self.events[self.position]
        self.position += 1
        if not isinstance(event, dict) or event.get("digest") != digest(args, kwargs):
            raise TraceError("a recorded call does not match the grader's own inputs (a forged or reordered record)")
        if "violation" in event:  # the learner's process saw a forbidden API: the check fails as it did there
            raise CheckFailure(str(event["violation"])[:2000])
        if "raise" in event:
            raise _exception(event)
        if "result" not in event:
            raise TraceError("a recorded call has no outcome")
        inputs = _tensors(args)
        if "inputs_after" in event:
            _apply_in_place(inputs, event["inputs_after"])
        result = decode(event["result"])
        if "jacobians" in event:
            result = _with_gradients(result, inputs, event["jacobians"])
        return result

    def violation(self, message: str) -> None:
        pass

    def finished(self) -> None:
        """After the check: every recorded call must have been asked for."""
        if self.position != len(self.events):
            raise TraceError(f"the record has {len(self.events) - self.position} call(s) the grader never made")


def _tensors(args: tuple) -> list[Tensor]:
    """The tensors among a call's positional arguments (one level of tuples and lists too)."""
    found = []
    for a in args:
        if isinstance(a, Tensor):
            found.append(a)
        elif isinstance(a, (tuple, list)):
            found.extend(t for t in a if isinstance(t, Tensor))
    return found


def _apply_in_place(inputs: list[Tensor], recorded: object) -> None:
    if not isinstance(recorded, list) or len(recorded) != len(inputs):
        raise TraceError("malformed record of inputs changed in place")
    for tensor, obj in zip(inputs, recorded):
        after = decode(obj)
        if not isinstance(after, Tensor) or after.shape != tensor.shape or after.dtype != tensor.dtype:
            raise TraceError("a recorded in-place change does not fit the grader's input")
        if tensor.device.type != "meta":
            with torch.no_grad():
                tensor.copy_(after.to(tensor.device))


MAX_JACOBIAN = 2**16  # entries per (result, input) pair: the checks' gradient tests use small tensors


def _results(result: Any) -> list[Tensor | None]:
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [r if isinstance(r, Tensor) else None for r in result]
    return []


def _jacobians(result: Any, inputs: list[Tensor]) -> list:
    """For each result tensor with a gradient and each input that requires one: d result / d input, recorded.

    The judge cannot differentiate learner code; it differentiates these recorded Jacobians instead,
    so a check that back-propagates through a learner's result sees the learner's own gradients.
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
    """A recorded result whose gradients are the recorded Jacobians (vector-Jacobian products)."""

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


def dumps(events: list[dict]) -> str:
    return json.dumps(events, separators=(",", ":"))


def loads(text: str) -> list:
    try:
        events = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise TraceError(f"the record is not valid JSON: {e}") from None
    if not isinstance(events, list):
        raise TraceError("malformed trace")
    return events
