"""The kernel the chapters execute in: ipykernel's, with one warning of its own filtered.

jupyter-cache starts each chapter's kernel over TCP on loopback, and ipykernel 7 then logs
"Kernel is running over TCP without encryption ..." (ipykernel/kernelapp.py, init_sockets) into
the build's output, once per chapter. The kernel and its client are the same user's processes on
the same machine, so there is nothing to act on. `_config.yml` maps the chapters' kernel name
`python3` to the kernel spec `mhsa-chapters` (myst-nb's nb_kernel_rgx_aliases), found here in
`_ext/jupyter/kernels/`: ipykernel's own launcher, with a logging filter on exactly that message.
jupyter_client runs its `python` as the interpreter of the build.
"""

from __future__ import annotations

import os
from pathlib import Path

KERNELS = Path(__file__).resolve().parent / "jupyter"  # a Jupyter data directory: kernels/mhsa-chapters/


def setup(app):
    paths = os.environ.get("JUPYTER_PATH", "")
    if str(KERNELS) not in paths.split(os.pathsep):
        os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(KERNELS), paths) if p)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
