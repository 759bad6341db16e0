"""The course's JupyterHub (`make hub`): loopback only, three demo accounts, nbgrader's exchange.

Accounts (hub user = Unix user, created by `make hub` with `hub/setup_hub.py`):
  mhsa-instructor  the course's instructor: nbgrader's formgrader and the course in their home,
                   graded with the course's sandboxed judge (the repo's nbgrader_config.py)
  mhsa-ada, mhsa-ben  learners: JupyterLab with nbgrader's Assignment List, in a bubblewrap sandbox
                   that holds the learner kit's mhsa_ref (withheld bodies, no grader), their own home
                   and the exchange, and nothing of the course repository
Each account has its own password, drawn at random by `make hub` into HUB_DIR/passwords.json
(readable by root only) and printed when the hub starts.

For a real class, replace two settings (everything else stays):
  c.JupyterHub.authenticator_class  your institution's login (e.g. oauthenticator, ldapauthenticator)
  c.JupyterHub.spawner_class        e.g. KubeSpawner from Zero to JupyterHub on Kubernetes, with the
                                    learner image built from `make learner-kit` and the exchange on a
                                    shared volume (nbgrader's docs: "Using nbgrader with JupyterHub")
"""

from __future__ import annotations

import hmac
import json
import os
import pwd
import shutil
import sys
from pathlib import Path

from jupyterhub.auth import Authenticator
from jupyterhub.spawner import LocalProcessSpawner

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HUB = os.path.abspath(os.environ.get("HUB_DIR") or os.path.join(REPO, "_build", "hub"))
# make learner-kit: mhsa_ref with every learner function withheld (HUB_KIT: a kit built elsewhere)
KIT = os.path.abspath(os.environ.get("HUB_KIT") or os.path.join(REPO, "_build", "learner-kit"))
INSTRUCTOR = "mhsa-instructor"
LEARNERS = ("mhsa-ada", "mhsa-ben")
BWRAP = os.environ.get("MHSA_BWRAP") or shutil.which("bwrap") or "/usr/bin/bwrap"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"


class DemoAuthenticator(Authenticator):
    """Each demo account with its own password (HUB_DIR/passwords.json): a learner cannot log in as another."""

    async def authenticate(self, handler, data):
        with open(os.path.join(HUB, "passwords.json")) as f:
            passwords = json.load(f)
        name, given = data.get("username", ""), data.get("password", "")
        if name in passwords and hmac.compare_digest(passwords[name].encode(), given.encode()):
            return name
        return None


def _python_paths() -> list[str]:
    """What running the course's Python needs: its installation, the virtual environment, the interpreter."""
    return sorted({sys.base_prefix, sys.prefix, os.path.realpath(sys.executable)})


def _closed(paths: list[str]) -> list[str]:
    """The folders above `paths` that others cannot search (a Python installed in /root): hidden behind a
    tmpfs in the sandbox, with only `paths` bound back into them."""
    parents = {str(a) for p in paths for a in Path(p).parents if str(a) != "/" and not os.stat(a).st_mode & 0o001}
    return sorted(a for a in parents if not any(a.startswith(b + "/") for b in parents))


def _ancestors(paths: list[str], within: list[str] | None = None) -> list[str]:
    """bubblewrap arguments that make the folders above each of `paths` (only those inside `within`, when given)
    searchable by all: bubblewrap would make them 0700, and the account could not reach what is bound below."""
    folders = {str(a) for p in paths for a in Path(p).parents
               if str(a) not in ("/", "/tmp") and (within is None or any(str(a).startswith(w + "/") for w in within))}
    args = []
    for folder in sorted(folders - set(paths), key=lambda a: a.count("/")):
        args += ["--perms", "0755", "--dir", folder]
    return args


def sandbox(user: str) -> list[str]:
    """The command around an account's server: bubblewrap, started by the hub as root, then the account's own
    Unix user (setpriv) before anything of the server runs.

    The instructor sees the machine as it is (their home is the course; they grade with the repo's
    mhsa_ref). A learner sees the system and the course's environment read-only, the learner kit as
    its mhsa_ref, their home and the exchange writable, and nothing else: no course repository (its
    solutions/ and reference mhsa_ref), no other home.
    """
    entry = pwd.getpwnam(user)
    home = entry.pw_dir
    python = _python_paths()
    args = [BWRAP, "--die-with-parent", "--new-session"]
    if user == INSTRUCTOR:
        args += ["--bind", "/", "/", "--dev-bind", "/dev", "/dev"]
        closed = _closed(python)
        for folder in closed:
            args += ["--perms", "0755", "--tmpfs", folder]
        args += _ancestors(python, within=closed)
        for path in python:
            args += ["--ro-bind", path, path]
    else:
        exchange, etc = os.path.join(HUB, "exchange"), os.path.join(HUB, "etc")
        read_only = sorted({"/usr", "/etc", *python, KIT, etc} | {p for p in ("/bin", "/sbin", "/lib", "/lib64", "/lib32")
                                                                  if os.path.exists(p)})
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                 "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        args += _ancestors(read_only + [home, exchange])
        for path in read_only:
            args += ["--ro-bind", path, path]
        args += ["--bind", home, home, "--bind", exchange, exchange, "--setenv", "PYTHONPATH", KIT]
    args += ["--chdir", home, "--", SETPRIV, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups",
             "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return args + [os.path.join(sys.prefix, "bin", "python"), "-m", "jupyterhub.singleuser"]


class CourseSpawner(LocalProcessSpawner):
    """Each account's server inside `sandbox`: the hub (root) starts bubblewrap, which drops to the account."""

    def make_preexec_fn(self, name):
        return None  # bubblewrap needs root to build the sandbox; setpriv gives it up inside

    async def start(self):
        self.cmd = sandbox(self.user.name)
        return await super().start()


port = int(os.environ.get("HUB_PORT", "8100"))
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("HUB_API_PORT", str(port + 1)))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(os.environ.get('HUB_PROXY_API_PORT', str(port + 2)))}"
c.ConfigurableHTTPProxy.command = [os.path.join(REPO, "hub", "node_modules", ".bin", "configurable-http-proxy")]
c.JupyterHub.db_url = "sqlite:///" + os.path.join(HUB, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(HUB, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(HUB, "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = os.path.join(HUB, "proxy.pid")
c.JupyterHub.authenticator_class = DemoAuthenticator
c.Authenticator.allowed_users = {INSTRUCTOR, *LEARNERS}
c.Authenticator.admin_users = {INSTRUCTOR}
c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.default_url = "/lab"
# offline: no news feed, no update check (as `make lab`)
c.Spawner.args = ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
# everyone's nbgrader reads the exchange and the course id from here (make hub writes it)
c.Spawner.environment = {"JUPYTER_CONFIG_PATH": os.path.join(HUB, "etc"), "MPLBACKEND": "Agg",
                         "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
c.JupyterHub.shutdown_on_logout = True
c.JupyterHub.cleanup_servers = True
