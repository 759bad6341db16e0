"""The call across the sandbox's wall: the checks run outside, with the reference; the learner's code runs inside.

Every named check reaches the learner's code only through `mhsa_ref.checks._core.call` (and
`invoke`, `answer`), which hand the call to the active invoker. When a notebook is graded that is
`Remote`, in the judge, outside the sandbox: it sends the learner's function the arguments the
check chose and gets back what the function returned. The sandboxed process (`Server`, in
`worker.py`) holds the learner's namespace and nothing of the reference: it decodes the arguments,
calls the learner's function (watched for the exercise's rules, as in the learner's own kernel),
and sends back the result, the exception, or the rule it broke. Expected values never cross the
wall, so a notebook can earn points only with what its own code computes: whatever the sandbox
sends back is the learner's answer, and the judge compares it with `mhsa_ref`.

Requests (judge -> sandbox), one JSON object each:
  {"op": "call", "target": {"symbol": name} | {"handle": n, "state": {...}}, "args": [...],
   "kwargs": {...}, "name": str, "rules": {"ops": {...}, "python": {dotted name: how}}, "grad": bool,
   "watch": bool (false: `_core.invoke`, the call as it is)}
  {"op": "value", "symbol": name}
Replies: {"result": value, "jacobians"?: [...], "changed_inputs"?: true}, {"raise": type, "message",
"bare"}, {"violation": message}, {"missing": name}, or {"error": message} (a request it cannot read).
"""

from __future__ import annotations

import json
from typing import Any, Callable

import torch
from torch import nn

from mhsa_ref.checks._core import BrokenRule, CheckFailure, InPlace, Rules, watched
from mhsa_ref import codec
from mhsa_ref.codec import TraceError


def rules_payload(rules: Rules) -> dict:
    """`rules` as the sandbox reads them: operator substrings, and Python functions by dotted name."""
    from grader.sandboxed.bans import dotted_name

    return {"ops": dict(rules.ops), "python": {dotted_name(f): how for f, how in rules.python.items()}}


def _rules(payload: object) -> Rules:
    from grader.sandboxed.bans import resolve

    if not isinstance(payload, dict):
        return Rules()
    python = {}
    for dotted, how in (payload.get("python") or {}).items():
        try:
            python[resolve(str(dotted))] = str(how)
        except (ImportError, AttributeError):
            pass
    return Rules(ops={str(k): str(v) for k, v in (payload.get("ops") or {}).items()}, python=python)


# --- inside the sandbox ------------------------------------------------------------------------------


class Server:
    """The learner's side of the wall, for one notebook: answers the judge's requests from `namespace`."""

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace
        self.handles: dict[int, nn.Module] = {}  # modules the learner's code built, by the number the judge knows

    def reply(self, request: object) -> dict:
        try:
            if not isinstance(request, dict):
                raise TraceError("a request is not an object")
            if request.get("op") == "value":
                symbol = str(request.get("symbol"))
                if symbol not in self.namespace:
                    return {"missing": symbol}
                return {"result": codec.encode(self.namespace[symbol])}
            if request.get("op") == "call":
                return self._call(request)
            raise TraceError(f"unknown request {str(request.get('op'))[:40]!r}")
        except Exception as e:  # noqa: BLE001 - whatever went wrong answering, the judge gets a reply (and a flag)
            return {"error": f"{type(e).__name__}: {e}"[:500]}

    def _target(self, target: object) -> Callable | None:
        if not isinstance(target, dict):
            raise TraceError("malformed call target")
        if "symbol" in target:
            return self.namespace.get(str(target["symbol"]))
        module = self.handles.get(target.get("handle"))
        if module is None:
            raise TraceError("the call names a module the learner's code never built")
        state = target.get("state") or {}
        dtype, device = codec._dtype(state.get("dtype")), str(state.get("device"))
        if device not in ("cpu", "meta", "cuda") or (device == "cuda" and not torch.cuda.is_available()):
            raise TraceError(f"device {device[:20]!r} is not available here")
        module.to(device=device, dtype=dtype)
        with torch.no_grad():
            for name, spec in (state.get("linears") or {}).items():
                linear = getattr(module, str(name), None)
                if not isinstance(linear, nn.Linear):
                    raise TraceError(f"the learner's module has no nn.Linear {str(name)[:40]!r}")
                linear.weight.copy_(codec.decode(spec["weight"]))
                if spec.get("bias") is not None and linear.bias is not None:
                    linear.bias.copy_(codec.decode(spec["bias"]))
        return module

    def _call(self, request: dict) -> dict:
        fn = self._target(request.get("target"))
        if fn is None:
            return {"missing": str((request.get("target") or {}).get("symbol"))[:60]}
        args = codec.decode(request.get("args"))
        kwargs = codec.decode(request.get("kwargs"))
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
            raise TraceError("malformed arguments")
        args = tuple(args)
        inputs = codec._tensors(args)
        before = [codec.snapshot(t) for t in inputs]
        rules = _rules(request.get("rules"))
        try:
            with torch.set_grad_enabled(bool(request.get("grad", True))):
                if request.get("watch", True):
                    result, broken = watched(fn, args, kwargs, name=str(request.get("name"))[:80], rules=rules,
                                             rule_first=True)
                else:  # `_core.invoke`: the call as it is (the sandbox's bans still hold)
                    result, broken = fn(*args, **kwargs), None
        except BrokenRule as e:
            return {"violation": str(e)[:2000]}
        except BaseException as e:  # noqa: BLE001 - the learner's exception is an answer too
            return {"raise": type(e).__name__, "message": str(e)[:4000], "bare": not e.args}
        if broken:
            return {"violation": broken[:2000]}
        out: dict[str, Any] = {"result": codec.encode(result)}
        if isinstance(result, nn.Module):
            handle = len(self.handles) + 1
            self.handles[handle] = result
            out["result"]["handle"] = handle
        if any(b is not None and b != codec.snapshot(t) for b, t in zip(before, inputs)):
            out["changed_inputs"] = True  # the learner's function changed an input in place
        gradients = codec._jacobians(result, inputs)
        if gradients:
            out["jacobians"] = gradients
        return out


# --- outside: the judge's invoker ----------------------------------------------------------------------


class StandIn:
    """What the judge passes to a check in place of the learner's function, class or value."""

    def __init__(self, symbol: str) -> None:
        self.__name__ = symbol

    def __call__(self, *args, **kwargs):
        raise TraceError(f"`{self.__name__}` was reached outside the grader's invoker")


class Remote:
    """The judge's invoker: each call of the learner's code is a request to the sandboxed process.

    channel: sends one request and returns the reply (both dicts); raises TraceError when the
    learner's process is gone. cuda: whether the sandboxed process has a CUDA device.
    """

    def __init__(self, channel: Callable[[dict], dict], *, cuda: bool = False) -> None:
        self.channel = channel
        self.cuda = cuda
        self.calls = 0

    def _ask(self, request: dict) -> dict:
        self.calls += 1
        reply = self.channel(request)
        if not isinstance(reply, dict):
            raise TraceError("malformed reply")
        if "error" in reply:
            raise TraceError(f"the sandbox could not answer: {str(reply['error'])[:300]}")
        return reply

    def value(self, obj: object) -> object:
        if not isinstance(obj, StandIn):
            return obj
        reply = self._ask({"op": "value", "symbol": obj.__name__})
        if "missing" in reply:
            raise CheckFailure(f"`{obj.__name__}` is not defined: run the cell that defines it, or write it.")
        if "result" not in reply:
            raise TraceError("a reply has no value")
        try:
            return codec.decode(reply["result"])
        except TraceError:
            raise
        except Exception as e:  # noqa: BLE001
            raise TraceError(f"a reply could not be read ({type(e).__name__}: {str(e)[:200]})") from None

    def invoke(self, fn: Callable, args: tuple, kwargs: dict, *, name: str = "", rules: Rules = Rules(),
               watch: bool = False) -> Any:
        """The learner's `fn(*args, **kwargs)`, run in the sandbox; watched for `rules` as `_core.call` asks
        (`watch`), or called as it is, as `_core.invoke` does in the learner's kernel."""
        if isinstance(fn, StandIn):
            target: dict = {"symbol": fn.__name__}
        elif isinstance(fn, codec.ReplayModule) and getattr(fn, "_handle", None) is not None:
            target = {"handle": fn._handle, "state": _module_state(fn)}
        else:
            raise TraceError(f"a check passed {type(fn).__name__}, which the sandbox does not hold, as the learner's code")
        request = {"op": "call", "target": target, "args": codec.encode(tuple(args), whole=True),
                   "kwargs": codec.encode(dict(kwargs), whole=True), "name": name or getattr(fn, "__name__", ""),
                   "rules": rules_payload(rules), "grad": torch.is_grad_enabled(), "watch": watch}
        reply = self._ask(request)
        if "missing" in reply:
            raise CheckFailure(f"`{str(reply['missing'])[:60]}` is not defined: run the cell that defines it, or write it.")
        if "violation" in reply:
            raise CheckFailure(str(reply["violation"])[:2000])
        if "raise" in reply:
            raise codec._exception(reply)
        if "result" not in reply:
            raise TraceError("a reply has no result")
        if watch and reply.get("changed_inputs"):
            # never copied into the judge's own inputs: the reference runs on what the check chose
            raise InPlace()
        try:
            result = codec.decode(reply["result"])
            if "jacobians" in reply:
                result = codec._with_gradients(result, codec._tensors(args), reply["jacobians"])
        except TraceError:
            raise
        except Exception as e:  # noqa: BLE001 - a malformed value is the record's fault, flagged
            raise TraceError(f"a reply could not be read ({type(e).__name__}: {str(e)[:200]})") from None
        return result


def _module_state(module: codec.ReplayModule) -> dict:
    parameter = next(module.parameters(), None)
    linears = {name: {"weight": codec.encode(child.weight.detach(), whole=True),
                      "bias": None if child.bias is None else codec.encode(child.bias.detach(), whole=True)}
               for name, child in module.named_children() if isinstance(child, nn.Linear)}
    return {"linears": linears, "dtype": str(parameter.dtype).removeprefix("torch.") if parameter is not None
            else "float32", "device": parameter.device.type if parameter is not None else "cpu"}


class Loopback:
    """A channel to a `Server` in this process, through JSON as on the pipe (tests, and grading in one process)."""

    def __init__(self, namespace: dict) -> None:
        self.server = Server(namespace)

    def __call__(self, request: dict) -> dict:
        return json.loads(json.dumps(self.server.reply(json.loads(json.dumps(request)))))
