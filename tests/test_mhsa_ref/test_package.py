"""The package itself: `import mhsa_ref` imports nothing else, and its names resolve as they always did."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_the_package_or_the_grader_sandbox_imports_no_torch():
    """The grader starts its sandboxed workers before it pays for torch (grader/pool.py)."""
    assert _python("import sys, mhsa_ref, grader.pool, grader.nbgrader_plugin; "
                   "print('torch' in sys.modules)") == "False"


def test_every_public_name_resolves_to_its_function():
    code = ("import mhsa_ref, importlib, types\n"
            "for name in mhsa_ref.__all__:\n"
            "    value = getattr(mhsa_ref, name)\n"
            "    assert not isinstance(value, types.ModuleType), name\n"
            "    assert value is getattr(importlib.import_module(value.__module__), name), name\n"
            "print(sorted(mhsa_ref.__all__) == sorted(mhsa_ref._MODULE_OF) and set(mhsa_ref.__all__) <= set(dir(mhsa_ref)))")
    assert _python(code) == "True"


def test_a_function_named_like_its_module_stays_the_function():
    """one_hot, self_attention and split_heads are modules and functions: the package's name is the function."""
    code = ("import mhsa_ref\n"
            "from mhsa_ref.one_hot import build_vocab\n"  # importing the submodule must not replace the function
            "import mhsa_ref.split_heads, mhsa_ref.self_attention\n"
            "from mhsa_ref import one_hot\n"
            "print(mhsa_ref.one_hot.__module__, one_hot.__name__, mhsa_ref.split_heads.__name__,\n"
            "      mhsa_ref.self_attention.__qualname__, mhsa_ref.attention.__name__)")
    assert _python(code).split() == ["mhsa_ref.one_hot", "one_hot", "split_heads", "self_attention",
                                     "mhsa_ref.attention"]


def test_an_unknown_name_is_an_attribute_error():
    assert _python("import mhsa_ref\ntry:\n    mhsa_ref.no_such_thing\nexcept AttributeError as e:\n    print(e)") \
        == "module 'mhsa_ref' has no attribute 'no_such_thing'"
