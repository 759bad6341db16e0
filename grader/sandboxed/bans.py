"""Forbidden APIs made unavailable in the grading sandbox, where the learner's code cannot turn them back on.

The checks watch a learner's function from inside its process (`mhsa_ref.checks._core.call`: a
TorchDispatchMode and a profiler), which names the rule it broke. A function can turn those hooks
off (`sys.setprofile(None)`, leaving the dispatch modes) or hide the call (`getattr(torch, "soft" +
"max")`). So, before the first cell of a notebook runs, the sandboxed process replaces every
forbidden operator of that exercise, at PyTorch's dispatcher, by a kernel that raises:

* ATen operators: every operator whose name holds a forbidden substring (`_softmax` covers
  `_softmax`, `_log_softmax`, `_masked_softmax`, `_sparse_softmax`, `_safe_softmax`, their `out`
  forms and backward passes), on every backend that has a kernel for it (CPU, CUDA, meta, sparse,
  nested, quantized, the composite keys). Calls that reach them from C++ (`Tensor.softmax`,
  `F.softmax`, `torch.special.softmax`, sparse and nested softmax) go through the dispatcher too.
  The registration handle is not a Python object the garbage collector tracks, and no reference
  to it is kept anywhere: learner code has nothing to call to take the kernels back out, and the
  original kernels are not reachable from Python.
* Python functions (`F.multi_head_attention_forward`, `nn.MultiheadAttention.forward`): their
  code is replaced in place, so every reference to them, however obtained, raises. A built-in
  (`F.one_hot` is `torch._C._nn.one_hot`) is the ATen operator of its name, banned as above.

A ban holds in this process and in what it forks (the same memory), but a program started afresh
(`subprocess.run([sys.executable, ...])`) would load PyTorch without it, so `no_exec` also forbids
this process and its children to start any program (a seccomp filter on execve and execveat, which
no process can remove once set).

A learner's function that reaches a forbidden API anyway raises, and loses that check's points,
whatever it did to the hooks. What it cannot be stopped from doing is computing the same thing
itself, which is the exercise. Re-running PyTorch's own Python source (`importlib.reload`) gives
back the Python functions; the ATen operators stay banned.
"""

from __future__ import annotations

import ctypes
import importlib
import warnings

import torch

# Every dispatch key a forbidden operator may have a kernel on (an operator without one is skipped).
KEYS = ("CPU", "CUDA", "Meta", "MPS", "XPU", "SparseCPU", "SparseCUDA", "SparseMeta", "SparseCsrCPU", "SparseCsrCUDA",
        "NestedTensorCPU", "NestedTensorCUDA", "QuantizedCPU", "QuantizedCUDA", "MkldnnCPU",
        "CompositeImplicitAutograd", "CompositeExplicitAutograd", "CompositeExplicitAutogradNonFunctional")


def _message(how: str) -> str:
    return (f"{how} is not available in this exercise (the grading sandbox has it switched off): write the "
            f"computation yourself from basic tensor operations.")


def resolve(dotted: str):
    """The object named `module.attr.attr` (the longest importable module prefix, then attributes)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"nothing named {dotted!r}")


def dotted_name(fn) -> str:
    """How the sandbox finds `fn` again: module and qualified name."""
    return f"{fn.__module__}.{fn.__qualname__}"


def operators(substrings) -> list[str]:
    """Every ATen operator (with overload) whose name holds one of `substrings`."""
    found = []
    for name in torch._C._dispatch_get_all_op_names():
        if name.startswith("aten::") and any(s in name[6:].split(".")[0] for s in substrings):
            found.append(name)
    return sorted(found)


def install(ops: dict[str, str], python: dict[str, str]) -> list[str]:
    """Make the forbidden APIs raise in this process, for good. Returns what was banned, for the record.

    ops: substring of ATen operator names -> what the learner would have written;
    python: dotted name of a Python function (or of a built-in, banned as its ATen operator) -> the same.
    """
    banned = []
    kernels: dict[str, str] = {}
    for substring, how in ops.items():
        for name in operators([substring]):
            kernels.setdefault(name, how)
    for dotted, how in python.items():
        fn = resolve(dotted)
        code = getattr(fn, "__code__", None)
        if code is None:  # a built-in: its ATen operator, every overload
            base = getattr(fn, "__name__", dotted.rsplit(".", 1)[-1])
            for name in torch._C._dispatch_get_all_op_names():
                if name == f"aten::{base}" or name.startswith(f"aten::{base}."):
                    kernels.setdefault(name, how)
            continue
        stub: dict = {}
        exec(f"def _banned(*args, **kwargs):\n    raise RuntimeError({_message(how)!r})\n", stub)  # noqa: S102 - our own text
        replacement = stub["_banned"].__code__
        if code.co_freevars:  # a closure: its code cannot be swapped; take the name away instead
            owner = resolve(dotted.rsplit(".", 1)[0])
            setattr(owner, dotted.rsplit(".", 1)[1], stub["_banned"])
        else:
            fn.__code__ = replacement
        banned.append(dotted)
    if kernels:
        library = torch._C._dispatch_library("IMPL", "aten", "", "<mhsa-grading-bans>", 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "overriding a previously registered kernel": that is the point
            for name, how in kernels.items():
                kernel = _raiser(_message(how))
                for key in KEYS:
                    if torch._C._dispatch_has_kernel_for_dispatch_key(name, key):
                        library.impl(name[6:], key, kernel, False)
                banned.append(name)
        # keep the registration alive with no reference to it anywhere (it is not tracked by gc either):
        # dropping the handle would unregister the kernels, and holding it would let a notebook do so
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(library))
        del library
    return banned


def _raiser(message: str):
    def forbidden(*args, **kwargs):
        raise RuntimeError(message)

    return forbidden


# seccomp: (audit arch, execve, execveat) of the machines the grader runs on
_SYSCALLS = {"x86_64": (0xC000003E, 59, 322), "aarch64": (0xC00000B7, 221, 281)}


def no_exec() -> bool:
    """Forbid this process and every process it starts to execute a program (execve, execveat): EPERM.

    A seccomp filter (the kernel's, set with prctl; it cannot be lifted by the process or its children).
    Forks still work, and inherit the bans. Returns False on a machine architecture it does not know.
    """
    import platform
    import struct

    arch = _SYSCALLS.get(platform.machine())
    if arch is None:
        return False
    audit, execve, execveat = arch
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    program = [
        (ld_abs, 0, 0, 4),  # the architecture
        (jeq, 0, 5, audit),  # another ABI (i386 calls on x86_64): denied
        (ld_abs, 0, 0, 0),  # the system call's number
        (jge, 3, 0, 0x40000000),  # x32 calls: denied
        (jeq, 2, 0, execve),
        (jeq, 1, 0, execveat),
        (ret, 0, 0, allow),
        (ret, 0, 0, deny),
    ]
    filters = b"".join(struct.pack("HBBI", *f) for f in program)
    buffer = ctypes.create_string_buffer(filters, len(filters))

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Program(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS: needed to set a filter without privileges
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(22, 2, ctypes.addressof(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return True
