"""The machinery every named check uses: guarded calls, comparisons, and messages that teach.

A check calls the learner's function through `call`, which records what the function really
did (the ATen operators it dispatched, the Python functions it entered), so a forbidden API is
caught however it was reached: an alias, `getattr`, a method, or a delegation to `mhsa_ref`.
`expect_close` compares a result with the reference and, on a mismatch, names the likely mistake
by testing the result against the outputs that known mistakes produce ("suspects").
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHECKS_DIR = os.path.dirname(os.path.abspath(__file__))
# the values' codec carries arguments and results across the grading sandbox's wall: no reference code
_NOT_REFERENCE = {os.path.join(_PACKAGE_DIR, "__init__.py"), os.path.join(_PACKAGE_DIR, "codec.py")}

# (atol, rtol) of the course: float64 within 1e-10, float32 within 1e-5; the half types use the
# defaults of PyTorch's own attention tests (test/test_transformers.py).
TOLERANCE = {
    torch.float64: (1e-10, 1e-10),
    torch.float32: (1e-5, 1e-5),
    torch.bfloat16: (1e-3, 1.6e-2),
    torch.float16: (1e-3, 1e-3),
}


# Set by grader.kit while it stores the reference's answers for the learner environment: every
# suspect is then formed even when the result is right, so that the reference calls a likely-cause
# message needs are stored too.
FORM_EVERY_SUSPECT = False


class CheckFailure(AssertionError):
    """A check did not pass; the message says what was expected, what came, and the likely cause."""


class GraderError(Exception):
    """Not the learner's mistake: the grader could not get a trustworthy answer (see the `grader` package)."""


@dataclass(frozen=True)
class Rules:
    """What a learner function may not use.

    ops: substrings of ATen operator names (e.g. "_softmax") mapped to what the learner wrote.
    python: Python functions the learner may not enter, mapped to how they are usually called.
    """

    ops: Mapping[str, str] = field(default_factory=dict)
    python: Mapping[Callable, str] = field(default_factory=dict)


class _OpRecorder(TorchDispatchMode):
    """Records the name of every ATen operator dispatched while active (works on any device)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # PyTorch wraps a mode's __torch_dispatch__ in torch._disable_dynamo, whose first call imports
        # torch._dynamo (sympy and ~800 modules, over a second) in every process that runs a check.
        # This mode only writes down operator names and is never compiled: no wrapping needed.
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def _is_reference_file(filename: str) -> bool:
    path = os.path.abspath(filename)
    # the package's __init__ holds no reference code, only the lazy lookup of `mhsa_ref.softmax` and the
    # like: a learner who calls mhsa_ref.softmax is named for softmax, the function it reaches next
    return (path.startswith(_PACKAGE_DIR + os.sep) and not path.startswith(_CHECKS_DIR + os.sep)
            and path not in _NOT_REFERENCE)


def dtype_name(x: Tensor) -> str:
    """"float32" for a float32 tensor: how messages name a dtype."""
    return str(x.dtype).replace("torch.", "")


def describe(x: object) -> str:
    if isinstance(x, Tensor):
        return f"shape {tuple(x.shape)} {str(x.dtype).replace('torch.', '')} on {x.device}"
    if isinstance(x, tuple):
        return "(" + ", ".join(describe(t) for t in x) + ")"
    return repr(x)


class _Direct:
    """The default invoker: call the learner's function here (see grader.sandboxed.remote for the other)."""

    cuda = True  # the learner's functions run where the checks do: CUDA if this process has it

    def invoke(self, fn: Callable, args: tuple, kwargs: dict, **_):
        return fn(*args, **kwargs)

    def value(self, obj: object) -> object:
        return obj



class _Invokers(threading.local):
    """Each thread has its own: a grader judges several notebooks at once, one per thread."""

    def __init__(self) -> None:
        self.stack: list = [_Direct()]
        self.sink: list[str] | None = None  # where `passed` writes instead of stdout (the judge's threads)
        self.hold = False  # inside on_cuda: a grader must not let other threads run checks meanwhile

    def current(self):
        return self.stack[-1]


_INVOKERS = _Invokers()


@contextlib.contextmanager
def invoker(active, sink: list[str] | None = None) -> Iterator[None]:
    """Route every learner call of the checks through `active` (`grader.sandboxed.remote.Remote`) while inside.

    sink: a list that receives what the checks would print (this thread only; stdout is shared).
    """
    _INVOKERS.stack.append(active)
    previous, _INVOKERS.sink = _INVOKERS.sink, sink
    try:
        yield
    finally:
        _INVOKERS.stack.pop()
        _INVOKERS.sink = previous


def invoke(fn: Callable, *args, **kwargs):
    """Call the learner's `fn` as it is, through the active invoker: no rule checks, no wrapping."""
    return _INVOKERS.current().invoke(fn, args, kwargs)


def answer(obj: object) -> object:
    """The learner's value `obj` (an answer to a question: a number, a shape, a choice), through the active invoker.

    Directly it is `obj` itself; when a notebook is graded, `obj` is the judge's stand-in for the
    learner's variable, and the value comes across the sandbox's wall (`grader.sandboxed.remote`).
    """
    return _INVOKERS.current().value(obj)


def call(fn: Callable, *args, name: str, rules: Rules = Rules(), context: str = "", **kwargs):
    """Call the learner's `fn` and fail with a teaching message if it broke a rule or raised.

    A bare `NotImplementedError()` passes through untouched: it is what an unfinished exercise raises.
    When a notebook is graded, the active invoker carries the call (and `rules`) across the sandbox's
    wall, where the learner's code runs watched the same way (`grader.sandboxed.remote`).
    """
    where = f" {context}" if context else ""
    current = _INVOKERS.current()
    try:
        if isinstance(current, _Direct):
            inputs = [t for t in _input_tensors(args) if t.device.type != "meta"]
            before = [_bytes(t) for t in inputs]
            result, broken = watched(fn, args, kwargs, name=name, rules=rules, rule_first=True)
            if not broken and any(b != _bytes(t) for b, t in zip(before, inputs)):
                raise InPlace()
        else:
            result, broken = current.invoke(fn, args, kwargs, name=name, rules=rules, watch=True), None
    except BrokenRule as e:  # a rule broken on the way counts, even when the function then raised
        raise CheckFailure(str(e)) from None
    except InPlace:
        raise CheckFailure(f"`{name}` changed an input in place{where}: a function must leave the tensors it is "
                           f"given as they were. Build new tensors (torch.full_like, torch.zeros_like) and fill them; "
                           f"slicing an input or .view() of it gives views that share its memory.") from None
    except (CheckFailure, GraderError):
        raise
    except NotImplementedError as e:
        if not e.args:  # `raise NotImplementedError()`: an unfinished exercise, reported as it is
            raise
        # PyTorch's own NotImplementedError (e.g. copying a meta tensor to the CPU) is the learner's bug
        raise CheckFailure(
            f"`{name}` raised NotImplementedError: {e}\n  while called with {describe(args)}{where}."
            + _exception_hint(e)
        ) from e
    except Exception as e:  # the learner's bug, reported in the learner's terms
        raise CheckFailure(
            f"`{name}` raised {type(e).__name__}: {e}\n  while called with {describe(args)}{where}."
            + _exception_hint(e)
        ) from e
    if broken:
        raise CheckFailure(broken)
    return result


class InPlace(Exception):
    """The learner's function changed one of its input tensors in place (`call` says so, with its name)."""


def _input_tensors(args: tuple) -> list[Tensor]:
    """The tensors among a call's positional arguments (one level of tuples and lists too)."""
    found = []
    for a in args:
        if isinstance(a, Tensor):
            found.append(a)
        elif isinstance(a, (tuple, list)):
            found.extend(t for t in a if isinstance(t, Tensor))
    return found


def _bytes(t: Tensor) -> bytes:
    data = t.detach().to("cpu").contiguous()
    return data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b""


class BrokenRule(Exception):
    """Raised by `watched(..., rule_first=True)` when the call broke a rule, whether or not it also raised."""


def watched(fn: Callable, args: tuple, kwargs: dict, *, name: str, rules: Rules, rule_first: bool = False):
    """Run the learner's `fn` under the operator recorder and the profiler: (result, broken rule or None).

    Exceptions of `fn` propagate, unless `rule_first` and a rule was broken on the way: then the rule
    is what is reported (the grading sandbox makes forbidden operators raise, see
    `grader.sandboxed.bans`, so a function that used one also raised).
    """
    recorder = _OpRecorder()
    # Python functions are recognised by their code object, builtins (C functions such as
    # torch._C._nn.one_hot, which F.one_hot is) by identity when the profiler reports a c_call.
    forbidden_code = {f.__code__: how for f, how in rules.python.items() if hasattr(f, "__code__")}
    forbidden_builtins = {id(f): how for f, how in rules.python.items() if not hasattr(f, "__code__")}
    entered: list[str] = []

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code in forbidden_code:
                entered.append(forbidden_code[code])
            elif _is_reference_file(code.co_filename):
                entered.append(f"mhsa_ref ({code.co_name} in {os.path.basename(code.co_filename)})")
        elif event == "c_call" and id(arg) in forbidden_builtins:
            entered.append(forbidden_builtins[id(arg)])

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        with recorder:
            result = fn(*args, **kwargs)
    except BaseException:
        sys.setprofile(previous)
        if rule_first:
            broken = _broken_rule(name, rules, recorder.ops, entered)
            if broken:
                raise BrokenRule(broken) from None
        raise
    finally:
        sys.setprofile(previous)
    return result, _broken_rule(name, rules, recorder.ops, entered)


def _broken_rule(name: str, rules: Rules, ops: list[str], entered: list[str]) -> str | None:
    for op in ops:
        for banned, how in rules.ops.items():
            if banned in op:
                return (f"`{name}` used {how} (it dispatched aten::{op}). This exercise asks you to write "
                        f"it yourself from basic tensor operations; remove that call.")
    if entered:
        first = entered[0]
        if first.startswith("mhsa_ref"):
            return (f"`{name}` called the course's reference implementation, {first}. Write your own "
                    f"version: the reference is what your code is graded against.")
        return f"`{name}` used {first}, which this exercise does not allow."
    return None


def _exception_hint(e: Exception) -> str:
    text = str(e)
    if "view size is not compatible" in text:
        return (
            "\n  Likely cause: .view on a tensor that is not contiguous, typically right after transpose(1, 2) (the "
            "lecture note's \"FAIL\"). view never copies, so it needs memory laid out in the new shape's order: "
            "use .contiguous().view(...) or .reshape(...), which copies when it must."
        )
    if "device" in text and ("meta" in text or "cuda" in text or "cpu" in text):
        return (
            "\n  Likely cause: your function creates a tensor on a fixed device (often the CPU, the "
            "default). Create new tensors on the inputs' device and dtype, e.g. "
            "torch.zeros_like(x) or torch.ones(n, device=x.device, dtype=x.dtype)."
        )
    if ".item()" in text or "Cannot copy out of meta tensor" in text:
        return (
            "\n  Likely cause: the numbers of a tensor on the inputs' device were copied to the CPU: into a tensor "
            "created there (torch.zeros(...) without device=x.device, then filled), or by .item(), .tolist(), "
            "float(...) or .cpu(). A tensor on the meta device has no numbers to copy (and a GPU tensor pays for "
            "the copy): create new tensors with the inputs' device and dtype, and keep to tensor operations."
        )
    if "numel() == 0" in text or "on an empty" in text:
        return ("\n  Likely cause: a reduction (max, min, argmax) over an empty tensor: with nothing in the input, "
                "sizes must come from the arguments (vocab_size, T, …), not from the largest value seen.")
    if "Expected target size" in text:
        return ("\n  Likely cause: F.cross_entropy takes the classes on dimension 1, so (B, T, V) logits are read as "
                "(B, V, T). Flatten first: logits.reshape(-1, V) and targets.reshape(-1).")
    if "is invalid for input of size" in text:
        return ("\n  Likely cause: a view or reshape to a shape whose number of elements differs from the tensor's. "
                "Check where that size comes from: torch.bincount(x) returns max(x) + 1 counts, fewer than you "
                "expect when the largest values do not occur, unless given minlength=.")
    if "cannot be multiplied" in text or "same reduction dim" in text:
        return (
            "\n  Likely cause: a matrix product with a transposed operand. x @ w needs the last size of x to equal "
            "the first size of w; weights here are (d_in, d_out), used as x @ w (nn.Linear stores the transpose)."
        )
    if "must match the size" in text or "broadcast" in text:
        return (
            "\n  Likely cause: a reduction without keepdim=True, so the result lost a dimension and no "
            "longer lines up with x; or a transpose too many."
        )
    if "shape" in text or "size" in text or "dimension" in text:
        return "\n  Likely cause: a transpose or a sum over the wrong dimension; print the shapes step by step."
    return ""


HEAD_AXIS_HINT = ("the mask was not given a head axis. A (B, T, S) mask lines up with the scores (B, h, T, S) only "
                  "after mask.unsqueeze(1) -> (B, 1, T, S); a (T, S) or 4-D mask broadcasts as it is.")


def with_head_axis_hint(failure: CheckFailure, mask: object) -> CheckFailure:
    """`failure` with the head-axis hint as its likely cause, when a (B, T, S) mask failed to broadcast."""
    if isinstance(mask, Tensor) and mask.dim() == 3 and "must match the size" in str(failure):
        return CheckFailure(str(failure).split("\n  Likely cause")[0] + "\n  Likely cause: " + HEAD_AXIS_HINT)
    return failure


def randn(shape: tuple[int, ...], *, seed: int, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> Tensor:
    """Reproducible normal samples, drawn on the CPU in float64 then moved, so every device sees the same numbers."""
    if torch.device(device).type == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def random_mask(shape: tuple[int, ...], *, seed: int, device: str | torch.device = "cpu", p: float = 0.5) -> Tensor:
    """A boolean mask (True = may attend) in which every query row keeps at least one key."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(shape, generator=g) < p
    keep = torch.randint(0, shape[-1], shape[:-1], generator=g)  # one allowed key per row
    mask.scatter_(-1, keep.unsqueeze(-1), True)
    return mask.to(device)


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    return TOLERANCE.get(dtype, (1e-5, 1e-5))


def _close(a: Tensor, b: Tensor, atol: float, rtol: float) -> bool:
    if a.shape != b.shape:
        return False
    a64, b64 = a.detach().to("cpu", torch.float64), b.detach().to("cpu", torch.float64)
    return bool(torch.allclose(a64, b64, atol=atol, rtol=rtol, equal_nan=True))


def _first_mismatch(got: Tensor, want: Tensor, atol: float, rtol: float) -> str:
    g, w = got.detach().to("cpu", torch.float64), want.detach().to("cpu", torch.float64)
    if g.dim() == 0:
        return f"  expected {w.item():.10g}, got {g.item():.10g} (difference {abs(g - w).item():.3g})."
    bad = ~torch.isclose(g, w, atol=atol, rtol=rtol, equal_nan=True)
    idx = tuple(int(i) for i in bad.nonzero()[0])
    row = idx[:-1]
    fmt = lambda t: "[" + ", ".join(f"{v:.4g}" for v in t[row][:6].tolist()) + (", …]" if t.shape[-1] > 6 else "]")
    diff = (g - w).abs().nan_to_num(nan=math.inf).max().item()
    return (
        f"  first difference at index {idx}: expected {w[idx].item():.10g}, got {g[idx].item():.10g} "
        f"(largest |difference| {diff:.3g}).\n"
        + (f"  expected row {row}: {fmt(w)}\n  your row     {row}: {fmt(g)}" if row else f"  expected: {fmt(w)}\n  yours:    {fmt(g)}")
    )


def expect_results(got: object, names: tuple[str, ...], *, name: str, context: str) -> tuple:
    """`got` must be a tuple (or list) of len(names) results, e.g. ("out", "weights"); returns it as a tuple."""
    if not (isinstance(got, (tuple, list)) and len(got) == len(names)):
        raise CheckFailure(f"`{name}` should return {len(names)} results ({', '.join(names)}) {context}; "
                           f"got {describe(got)}.")
    return tuple(got)


def expect_tensor(got: object, want: Tensor, *, what: str, context: str) -> Tensor:
    """Type, shape, dtype and device of `got` must be those of `want`."""
    if not isinstance(got, Tensor):
        raise CheckFailure(f"{what} should be a tensor of {describe(want)} {context}; got {type(got).__name__}.")
    if got.shape != want.shape:
        hint = ""
        if got.dim() == want.dim() - 1:
            hint = "\n  Likely cause: a reduction dropped a dimension; keep it with keepdim=True."
        elif sorted(got.shape) == sorted(want.shape):
            hint = "\n  Likely cause: dimensions in the wrong order (a missing or extra transpose)."
        raise CheckFailure(f"Wrong shape for {what} {context}: got {tuple(got.shape)}, expected {tuple(want.shape)}.{hint}")
    if got.dtype != want.dtype:
        raise CheckFailure(
            f"Wrong dtype for {what} {context}: got {got.dtype}, expected {want.dtype} (the inputs' dtype).\n"
            f"  Likely cause: a tensor created without dtype=x.dtype, or a .float()/.double() call."
        )
    if got.device != want.device:
        raise CheckFailure(
            f"Wrong device for {what} {context}: got {got.device}, expected {want.device} (the inputs' device).\n"
            f"  Likely cause: a tensor created without device=x.device, or a .cpu()/.to() call."
        )
    return got


def expect_close(
    got: object,
    want: Tensor,
    *,
    what: str,
    context: str,
    suspects: Mapping[str, Callable[[], Tensor]] = {},
    nan_hint: str = "an operation like 0/0, inf - inf or log(0); print the intermediate tensors.",
    tol: tuple[float, float] | None = None,
) -> None:
    """`got` must equal `want` within the dtype's tolerance; otherwise name the closest known mistake.

    suspects: likely causes mapped to functions that compute what that mistake would return.
    nan_hint: the likely cause to give when `got` has NaN where `want` has none.
    tol: (atol, rtol) to use instead of the dtype's (see `low_precision_tolerance`).
    """
    form_every_suspect(suspects)
    atol, rtol = tol if tol is not None else tolerance(want.dtype)
    loose_atol, loose_rtol = max(atol, 1e-4), max(rtol, 1e-4)
    if isinstance(got, Tensor) and got.shape != want.shape and got.device.type != "meta":
        cause = _matching_suspect(got, suspects, loose_atol, loose_rtol)  # a known mistake that also changes the shape
        if cause:
            raise CheckFailure(f"Wrong shape for {what} {context}: got {tuple(got.shape)}, expected "
                               f"{tuple(want.shape)}.\n  Likely cause: {cause}")
    expect_tensor(got, want, what=what, context=context)
    if _close(got, want, atol, rtol):
        return
    g = got.detach()
    if torch.isnan(g).any() and not torch.isnan(want).any():
        where = tuple(int(i) for i in torch.isnan(g).nonzero()[0])
        raise CheckFailure(
            f"NaN in {what} {context} (first at index {where}); the expected result has none."
            + f"\n  Likely cause: {nan_hint}"
        )
    cause = _matching_suspect(got, suspects, loose_atol, loose_rtol)
    if cause:
        raise CheckFailure(
            f"Wrong values in {what} {context}.\n{_first_mismatch(got, want, atol, rtol)}\n  Likely cause: {cause}"
        )
    raise CheckFailure(f"Wrong values in {what} {context}.\n{_first_mismatch(got, want, atol, rtol)}")


def low_precision_tolerance(reference_low: Tensor, exact: Tensor) -> tuple[float, float]:
    """(atol, rtol) for a result computed in bfloat16 or float16, after the rule of PyTorch's attention tests.

    atol is the dtype's default, or twice the largest error that the reference implementation itself
    makes in that dtype (`reference_low` against `exact`, the same result in float64), if larger: a
    learner's layer may round differently from ours, but not much worse than rounding does. rtol stays
    the dtype's default; a relative error measured at values near zero would open the check to anything.
    """
    atol, rtol = tolerance(reference_low.dtype)
    err = (reference_low.detach().to("cpu", torch.float64) - exact.detach().to("cpu", torch.float64)).abs()
    return max(atol, 2 * float(err.max())), rtol


def form_every_suspect(suspects: Mapping[str, object]) -> None:
    """While `FORM_EVERY_SUSPECT` is set (grader.kit), compute every suspect once, whatever comes."""
    if not FORM_EVERY_SUSPECT:
        return
    for make in suspects.values():
        try:
            make() if callable(make) else None
        except Exception:  # noqa: BLE001 - as in _matching_suspect: a suspect that cannot be formed says nothing
            pass


def likely_causes(causes: list[str]) -> str | None:
    """One likely cause as it is; several that give the same result here, all of them (never one by chance)."""
    if not causes:
        return None
    if len(causes) == 1:
        return causes[0]
    return "one of these, which give the same result here: " + " Or: ".join(causes)


def _matching_suspect(got: Tensor, suspects: Mapping[str, Callable[[], Tensor]], atol: float, rtol: float) -> str | None:
    """Every likely cause whose output equals `got` (shape included), as one message; or None.

    A suspect whose output is not finite names nothing: inf equals inf whatever the mistake that made it.
    """
    causes = []
    for cause, make in suspects.items():
        try:
            candidate = make()
        except Exception:  # a suspect that cannot be formed for these inputs says nothing
            continue
        if candidate is None or not bool(torch.isfinite(candidate.detach().double()).all()):
            continue
        if _close(got, candidate.to(got.dtype), atol, rtol):
            causes.append(cause)
    return likely_causes(causes)


def expect_exact(got: object, want: Tensor, *, what: str, context: str,
                 suspects: Mapping[str, Callable[[], Tensor]] = {}) -> None:
    """`got` must equal `want` exactly (integer results); otherwise name the closest known mistake.

    Suspects are compared first, shape included, because a known mistake often changes the shape
    too (a pair too many, a dimension lost), and its name teaches more than "wrong shape".
    """
    form_every_suspect(suspects)
    if isinstance(got, Tensor) and _close(got, want, 0.0, 0.0):
        expect_tensor(got, want, what=what, context=context)  # right values: dtype and device still count
        return
    cause = _matching_suspect(got, suspects, 0.0, 0.0) if isinstance(got, Tensor) and got.device.type != "meta" else None
    if cause:
        raise CheckFailure(f"Wrong {what} {context}.\n  expected {_show(want)}\n  got      {_show(got)}\n"
                           f"  Likely cause: {cause}")
    expect_tensor(got, want, what=what, context=context)
    raise CheckFailure(f"Wrong {what} {context}.\n  expected {_show(want)}\n  got      {_show(got)}")


def _show(t: Tensor, limit: int = 12) -> str:
    rows = t.detach().cpu().tolist()
    if t.dim() >= 1 and len(rows) > limit:
        return f"{rows[:limit]} … ({len(rows)} rows)"
    return str(rows)


def passed(name: str, summary: str) -> None:
    """Tell the learner what was checked; nbgrader only needs the absence of an exception."""
    line = f"✔ {name}: {summary}"
    if _INVOKERS.sink is not None:
        _INVOKERS.sink.append(line)
    else:
        print(line)


def on_cuda(fn: Callable[[], None]) -> str:
    """Run `fn` with CUDA in strict float32 (TF32 off) when a GPU is present; say what happened."""
    if not torch.cuda.is_available():
        return "no CUDA device here, so the GPU run was skipped"
    if not getattr(_INVOKERS.current(), "cuda", True):
        return "the grading sandbox has no CUDA device, so the GPU run was skipped"
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    _INVOKERS.hold = True  # the TF32 flags are global: the judge keeps its lock while they are changed
    try:
        fn()
    finally:
        _INVOKERS.hold = False
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous
    return f"also on {torch.cuda.get_device_name()}"


def holding() -> bool:
    """Whether this thread is inside a check's CUDA run (`on_cuda`), whose global settings other checks must not see."""
    return _INVOKERS.hold
