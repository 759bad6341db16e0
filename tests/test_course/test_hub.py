"""`make hub`: the whole nbgrader lifecycle through real parts, in Debian's Chromium.

A fresh hub (its own HUB_DIR, free loopback ports, the test run's learner kit) is started by `make
hub`. The instructor finds the course in nbgrader's Course List, generates and releases 04_attention
in the formgrader; ada and ben log in, fetch it in the Assignment List, complete it (ada correctly,
ben with his two mistakes: softmax without the max shift, scores divided by d_k), Validate and
submit; the instructor collects, autogrades (the course's sandboxed judge, through
nbgrader_config.py), sees both in the formgrader, generates and releases feedback; each learner
fetches feedback that names their mistake and shows no hidden test. Before the collect, ben slips a
copy of his notebook into the exchange under ada's name: it must be left there with the reason. Then
what a learner must not reach: another learner's submission or feedback, the instructor's course,
through the exchange, the file system or the hub. A failing test leaves screenshots of its pages in
_build/browser-failures/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

import demo_builder
from conftest import ROOT, SCREENSHOTS, VENV_BIN, free_port, learner_kit, tool_env

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="make hub runs as root: it starts each account's "
                                                           "server as that account's Unix user")]

A = "04_attention"
INSTRUCTOR, ADA, BEN = "mhsa-instructor", "mhsa-ada", "mhsa-ben"
BEN_MISTAKES = ("exp overflowed", "divided by d_k")  # the judge's words for his two mistakes
HIDDEN = ("BEGIN HIDDEN TESTS", "check.softmax_stability(", "clamp_min")  # a hidden test's source, the solution's code


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=5)
            return
        if process.poll() is not None:
            pytest.fail(f"make hub exited:\n{log.read_text()[-5000:]}")
        time.sleep(0.5)
    pytest.fail(f"the hub did not answer at {url} within {seconds:.0f} s:\n{log.read_text()[-5000:]}")


@pytest.fixture(scope="module")
def hub():
    """`make hub` on free loopback ports, from nothing (HUB_FRESH=1); yields (base URL, HUB_DIR, passwords)."""
    state = Path(tempfile.mkdtemp(prefix="mhsa-hub-", dir="/tmp"))
    state.chmod(0o755)  # the accounts reach their homes inside it
    kit = learner_kit()  # the learners' mhsa_ref, shared with test_learner_kit.py
    port = free_port()
    log = state / "hub.log"
    env = {**tool_env(), "HUB_API_PORT": str(free_port()), "HUB_PROXY_API_PORT": str(free_port())}
    process = subprocess.Popen(["make", "--no-print-directory", "hub", f"HUB_DIR={state / 'hub'}", f"HUB_PORT={port}",
                                "HUB_FRESH=1", f"HUB_KIT={kit}", "HUB_LOG_LEVEL=INFO"], cwd=ROOT, env=env,
                               stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/hub/login", process, log)
        passwords = json.loads((state / "hub" / "passwords.json").read_text())
        yield base, state / "hub", passwords, log, kit
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the hub stops its proxy and the servers it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for account in (INSTRUCTOR, ADA, BEN):  # anything an account's server left behind
            subprocess.run(["pkill", "-KILL", "-u", account], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


class Account:
    """One person's browser session on the hub."""

    def __init__(self, browser, base: str, name: str, password: str) -> None:
        self.base, self.name = base, name
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.goto(f"{base}/hub/login")
        self.page.fill("#username_input", name)
        self.page.fill("#password_input", password)
        self.page.click("#login_submit")
        self.page.wait_for_url(f"**/user/{name}/lab**", timeout=180_000)
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").wait_for(timeout=120_000)

    @property
    def server(self) -> str:
        return f"{self.base}/user/{self.name}"

    def api(self, method: str, path: str, data: dict | None = None, server: str | None = None):
        """A request to a single-user server's REST API with this session's cookies (as the lab makes them)."""
        xsrf = next((c["value"] for c in self.context.cookies() if c["name"] == "_xsrf"), "")
        return self.context.request.fetch(f"{server or self.server}{path}", method=method, data=data,
                                          headers={"X-XSRFToken": xsrf, "Content-Type": "application/json"})

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"hub-{name}-{self.name}.png"), full_page=True)


# --- the instructor's formgrader ----------------------------------------------------------------------------


def formgrader_action(page, cell: str, row_text: str = A) -> str:
    """Click a formgrader button in the row that names `row_text`; its modal must say success. Returns its text."""
    row = page.locator("tbody tr", has=page.locator("td", has_text=row_text))
    row.locator(f"td.{cell} a").first.click()
    modal = page.locator("#success-modal, #error-modal")
    modal.wait_for(state="visible", timeout=300_000)
    text = modal.inner_text()
    succeeded = modal.get_attribute("id") == "success-modal"
    modal.locator("button.btn-primary").click()
    modal.wait_for(state="detached")
    assert succeeded, f"{cell} failed in the formgrader:\n{text[-3000:]}"
    return text


def manage_assignments(page, base: str) -> None:
    page.goto(f"{base}/user/{INSTRUCTOR}/formgrader/manage_assignments")
    page.locator("tbody td.name", has_text=A).wait_for(timeout=60_000)


# --- a learner's Assignment List ----------------------------------------------------------------------------


def assignment_list(page):
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    page.locator("#released_assignments_list, #fetched_assignments_list").first.wait_for(timeout=60_000)
    return page


def refresh(page) -> None:
    page.locator("#refresh_assignments_list, button[title='Refresh assignments list']").first.click()
    page.wait_for_timeout(1000)


def complete(account: Account, learner: str) -> None:
    """The learner's answers, saved into the fetched notebook through the server's contents API (as the editor saves)."""
    path = f"/api/contents/{A}/{A}.ipynb"
    fetched = account.api("GET", path)
    assert fetched.ok, fetched.text()
    answers = nbformat.read(demo_builder.path_of(learner, A), as_version=4)
    response = account.api("PUT", path, {"type": "notebook", "format": "json", "content": answers})
    assert response.ok, response.text()


def validate_in_list(page) -> str:
    """Validate the fetched notebook from the Assignment List: its button turns green (passes) or red (fails)."""
    fetched = page.locator("#fetched_assignments_list")
    fetched.locator("a.assignment-notebooks-link", has_text=A).first.click()  # unfold the assignment's notebooks
    button = fetched.locator(".nested_list_item button", has_text="Validate").first
    button.click()
    page.wait_for_function("b => /btn-(success|danger)/.test(b.className)", arg=button.element_handle(), timeout=300_000)
    verdict = "passed" if "btn-success" in button.get_attribute("class") else "failed"
    dialog = page.locator(".jp-Dialog")
    with contextlib.suppress(Exception):
        dialog.wait_for(timeout=5_000)  # nbgrader says what it found in a dialog
    if dialog.count():
        verdict += ": " + dialog.inner_text()
        dialog.locator("button").last.click()
        dialog.wait_for(state="detached")
    return verdict


# --- the lifecycle ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifecycle(hub, browser):
    base, state, passwords, log, kit = hub
    accounts: dict[str, Account] = {}
    record: dict = {}
    try:
        teacher = accounts[INSTRUCTOR] = Account(browser, base, INSTRUCTOR, passwords[INSTRUCTOR])
        teacher.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        teacher.page.locator(".lm-Menu-itemLabel", has_text="Course List").click()
        courses = teacher.page.locator(".panel", has_text="Available formgraders")
        courses.locator("a", has_text="mhsa").first.wait_for(timeout=60_000)  # the course, linked to its formgrader
        record["course list"] = courses.first.inner_text()
        manage_assignments(teacher.page, base)
        formgrader_action(teacher.page, "assign")
        teacher.page.locator("tbody tr", has=teacher.page.locator("td", has_text=A)).locator("td.release a").wait_for()
        formgrader_action(teacher.page, "release")

        for name, learner in ((ADA, "ada"), (BEN, "ben")):
            account = accounts[name] = Account(browser, base, name, passwords[name])
            page = assignment_list(account.page)
            released = page.locator("#released_assignments_list")
            released.locator(".list_item", has_text=A).get_by_role("button", name="Fetch").click()
            page.locator("#fetched_assignments_list .list_item", has_text=A).first.wait_for(timeout=120_000)
            complete(account, learner)
            record[f"validate {learner}"] = validate_in_list(page)
            page.locator("#fetched_assignments_list .list_item", has_text=A).get_by_role("button", name="Submit").first.click()
            page.locator("#submitted_assignments_list .list_item", has_text=A).first.wait_for(timeout=120_000)

        # ben slips a copy of his own notebook into the exchange under ada's name, dated after hers
        forged = f"{state / 'exchange' / 'mhsa' / 'inbound'}/{ADA}+{A}+2099-01-01 00:00:00.000000 UTC+forgedforged"
        record["forge"] = run_as(BEN, state, f"import shutil; shutil.copytree({str(state / 'home' / BEN / A)!r}, {forged!r})")
        manage_assignments(teacher.page, base)
        record["collect"] = formgrader_action(teacher.page, "collect")
        teacher.page.goto(f"{base}/user/{INSTRUCTOR}/formgrader/manage_submissions/{A}")
        for name in (ADA, BEN):
            teacher.page.locator("tbody td.student-id", has_text=name).wait_for(timeout=60_000)
            formgrader_action(teacher.page, "autograde", row_text=name)
        teacher.page.reload()
        teacher.page.locator("tbody td.student-id", has_text=BEN).wait_for(timeout=60_000)
        record["submissions"] = teacher.page.locator("tbody").inner_text()
        manage_assignments(teacher.page, base)
        formgrader_action(teacher.page, "generate-feedback")
        formgrader_action(teacher.page, "release-feedback")

        for name in (ADA, BEN):
            account = accounts[name]
            page = account.page
            refresh(page)
            submitted = page.locator("#submitted_assignments_list .list_item", has_text=A).first
            submitted.get_by_role("button", name="Fetch Feedback").click()
            folder = f"/api/contents/{A}/feedback"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not account.api("GET", folder).ok:
                time.sleep(1)
            listing = account.api("GET", folder).json()["content"]
            html_path = f"{A}/feedback/{listing[0]['name']}/{A}.html"
            page.goto(f"{account.server}/files/{html_path}")
            record[f"feedback {name}"] = page.locator("body").inner_text()
        yield base, state, passwords, accounts, record, kit
    except Exception:
        for account in accounts.values():
            account.screenshot("lifecycle")
        print(log.read_text()[-8000:])
        raise
    finally:
        for account in accounts.values():
            account.context.close()


def test_validate_tells_each_learner_before_they_submit(lifecycle):
    *_, record, _ = lifecycle
    assert record["validate ada"].startswith("passed") and record["validate ben"].startswith("failed"), record


def test_the_formgrader_shows_both_learners_graded_by_the_judge(lifecycle):
    _, state, _, _, record, _ = lifecycle
    assert "mhsa" in record["course list"]  # the instructor's course list names the course
    table = record["submissions"]
    assert ADA in table and BEN in table and "graded" in table.lower()
    scores = dict(re.findall(r"(mhsa-\w+)\s.*?\s(\d+(?:\.\d+)?) / 18", table))
    assert scores == {ADA: "18", BEN: "9"}, table  # ben: the mistakes of the demo class, as make grade scores them
    # ben's forgery under ada's name was left in the exchange, with the reason, and ada kept her own 18
    assert record["forge"].returncode == 0, record["forge"].stderr
    assert f"it claims to be {ADA}'s but belongs to {BEN}" in record["collect"], record["collect"]


def test_each_learner_fetches_feedback_that_names_their_mistake_and_hides_the_tests(lifecycle):
    *_, record, _ = lifecycle
    ben, ada = record[f"feedback {BEN}"], record[f"feedback {ADA}"]
    for phrase in BEN_MISTAKES:
        assert phrase in ben
        assert phrase not in ada
    for secret in HIDDEN:
        assert secret not in ben and secret not in ada


def run_as(account: str, state: Path, code: str) -> subprocess.CompletedProcess:
    """`code` run by the account's Python inside the same sandbox the hub starts its server in."""
    env = {**tool_env(), "HUB_DIR": str(state), "HUB_KIT": str(learner_kit())}
    script = ("import runpy, sys; config = runpy.run_path(sys.argv[1], init_globals={'get_config': lambda: "
              "__import__('traitlets.config', fromlist=['Config']).Config()}); "
              "print('\\0'.join(config['sandbox'](sys.argv[2])))")
    command = subprocess.run([str(VENV_BIN / "python"), "-c", script, str(ROOT / "hub" / "jupyterhub_config.py"), account],
                             env=env, capture_output=True, text=True, check=True).stdout.strip().split("\0")
    command = command[:command.index("-m")] + ["-c", code]  # the server's Python, running `code` instead
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_a_learner_reaches_no_other_submission_feedback_or_the_instructors_course(lifecycle):
    base, state, passwords, accounts, _, _ = lifecycle
    exchange = state / "exchange" / "mhsa"
    ada_submission = next(p for p in (exchange / "inbound").iterdir() if p.name.startswith(ADA + "+"))  # root here
    probes = {
        "list the inbound": f"os.listdir({str(exchange / 'inbound')!r})",
        "list the feedback": f"os.listdir({str(exchange / 'feedback')!r})",
        "read ada's home": f"os.listdir({str(state / 'home' / ADA)!r})",
        "read the instructor's course": f"open({str(state / 'home' / INSTRUCTOR / 'solutions' / A / (A + '.ipynb'))!r})",
        "read the repository's solutions": f"open({str(ROOT / 'solutions' / A / (A + '.ipynb'))!r})",
        "import the reference": "import grader.judge",
    }
    code = "import os, sys\n" + "".join(
        f"try:\n    {action}\n    print({what!r}, 'ALLOWED')\nexcept Exception as e:\n    print({what!r}, 'refused', type(e).__name__)\n"
        for what, action in probes.items())
    result = run_as(BEN, state, code)
    assert result.returncode == 0, result.stderr
    assert "ALLOWED" not in result.stdout and result.stdout.count("refused") == len(probes), result.stdout
    # nbgrader names a submission by learner, assignment, time to the microsecond and 12 random characters (urlsafe base64 of 9 random bytes):
    # unlistable (above) and unguessable, it is what keeps ada's submission from ben
    assert re.fullmatch(rf"{ADA}\+{A}\+[\d-]+ [\d:.]+ UTC\+[A-Za-z0-9_-]{{12}}", ada_submission.name), ada_submission.name
    # through the hub: ben's session opens neither ada's server nor the instructor's formgrader
    ben = accounts[BEN]
    for other in (f"{base}/user/{ADA}/api/contents/{A}", f"{base}/user/{INSTRUCTOR}/formgrader/api/assignments"):
        response = ben.context.request.get(other, max_redirects=0)
        assert response.status in (302, 403, 404) and A not in response.text(), (other, response.status)
    assert ben.api("GET", f"/api/contents/{A}", server=f"{base}/user/{ADA}").status in (302, 403, 404)


def test_a_learners_server_imports_the_kit_not_the_reference(lifecycle):
    _, state, _, _, _, kit = lifecycle
    result = run_as(ADA, state, "import mhsa_ref, mhsa_ref.attention as a; print(mhsa_ref.__file__); "
                                "print(a.softmax.__doc__ is not None); a.softmax(__import__('torch').ones(2))")
    assert str(kit) in result.stdout, result.stdout + result.stderr
    assert "withheld" in result.stderr.lower() or "NotImplementedError" in result.stderr, result.stderr
