"""`make hub`'s setup, as root: the demo accounts, their homes, the exchange, the instructor's course.

    python hub/setup_hub.py HUB_DIR [--fresh]
    python hub/setup_hub.py HUB_DIR --show URL    # the accounts and their passwords

Idempotent: an account, a home or a password that exists is kept (--fresh empties the homes, the
exchange and the hub's database first, for a test that starts from nothing). The accounts are
system users without a login shell; `python hub/setup_hub.py --remove` deletes them again.

- HUB_DIR/home/<account>: each account's home, its own, mode 0700. The instructor's home is the
  course: nbgrader's source (the repo's solutions/) and the repo's nbgrader_config.py, so the
  formgrader grades with the course's sandboxed judge, and its gradebook is there.
- HUB_DIR/exchange: nbgrader's exchange, writable by all (with the sticky bit); nbgrader itself makes
  the inbound and feedback folders unreadable to the learners.
- HUB_DIR/etc/nbgrader_config.py: the exchange and the course id, read by everyone's nbgrader.
- HUB_DIR/passwords.json: each account's password (root only), drawn at random.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ACCOUNTS = ("mhsa-instructor", "mhsa-ada", "mhsa-ben")
INSTRUCTOR = ACCOUNTS[0]


def account(name: str, home: Path) -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(name)
        if entry.pw_dir != str(home):
            subprocess.run(["usermod", "--home", str(home), name], check=True)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--home-dir", str(home), "--shell", "/usr/sbin/nologin",
                        name], check=True)
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for folder, dirs, files in os.walk(path):
        os.chown(folder, uid, gid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def setup(hub: Path, fresh: bool = False) -> None:
    if os.geteuid() != 0:
        sys.exit("make hub: the hub starts each account's server as that Unix user, so it runs as root "
                 "(sudo make hub); it listens on 127.0.0.1 only")
    hub.mkdir(parents=True, exist_ok=True)
    os.chmod(hub, 0o755)
    closed = [str(folder) for folder in hub.parents if not folder.stat().st_mode & 0o001]
    if closed:  # every account must be able to reach its home
        sys.exit(f"make hub: the accounts cannot reach {hub}: {', '.join(closed)} is not searchable by others "
                 f"(chmod o+x it, or choose another HUB_DIR)")
    if fresh:
        for name in ("home", "exchange", "jupyterhub.sqlite"):
            target = hub / name
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    homes = hub / "home"
    homes.mkdir(exist_ok=True)
    os.chmod(homes, 0o755)
    for name in ACCOUNTS:
        home = homes / name
        uid, gid = account(name, home)
        home.mkdir(exist_ok=True)
        if name == INSTRUCTOR and not (home / "nbgrader_config.py").exists():
            shutil.copytree(REPO / "solutions", home / "solutions", dirs_exist_ok=True)
            shutil.copy(REPO / "nbgrader_config.py", home / "nbgrader_config.py")
        chown_tree(home, uid, gid)
        os.chmod(home, 0o700)
    exchange = hub / "exchange"
    exchange.mkdir(exist_ok=True)
    os.chmod(exchange, 0o1777)  # nbgrader wants 0777 (the sticky bit keeps one user from removing another's)
    etc = hub / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "nbgrader_config.py").write_text(
        "# written by make hub (hub/setup_hub.py): every account's nbgrader finds the exchange here\n"
        f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = 'mhsa'\n")
    os.chmod(etc, 0o755)
    passwords = hub / "passwords.json"
    if not passwords.exists():
        fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({name: secrets.token_urlsafe(12) for name in ACCOUNTS}, f, indent=1)


def show(hub: Path, url: str) -> None:
    passwords = json.loads((hub / "passwords.json").read_text())
    print(f"The course hub: {url} (loopback only; Ctrl-C stops it). Demo accounts (HUB_DIR/passwords.json):")
    for name in ACCOUNTS:
        role = "instructor: formgrader at /user/mhsa-instructor/formgrader" if name == INSTRUCTOR else "learner"
        print(f"  {name:<16} password {passwords[name]}   ({role})")


def remove() -> None:
    for name in ACCOUNTS:
        subprocess.run(["userdel", name], check=False, capture_output=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--remove"]:
        remove()
    elif sys.argv[2:3] == ["--show"]:
        show(Path(sys.argv[1]).resolve(), sys.argv[3])
    else:
        setup(Path(sys.argv[1]).resolve(), fresh="--fresh" in sys.argv[2:])
