"""nbgrader's collect for this course: every odd submission in the exchange is reported, none stops the others.

`nbgrader collect` and the formgrader's Collect button use it (nbgrader_config.py:
`ExchangeFactory.collect`). The exchange's inbound folder is writable by every learner, so what lies
there is learner input. Stock nbgrader stops the whole collect at one badly named entry, collects a
learner it has never heard of, and only warns when an entry claims to be someone else's. Here each
entry of the assignment is sorted out with a reason that goes to the log (the formgrader shows it):

- a name that is not `learner+assignment+time+random`: not collected;
- an entry that claims a learner who is a Unix account other than its owner (a learner submitting
  as another): not collected;
- a learner not on the course's roster (the gradebook's students), when the course keeps one
  (`nbgrader db student add`): not collected;
- an assignment that was never released (no outbound copy in the exchange): nothing collected;
- a learner who submitted more than once: the latest is collected (nbgrader's rule), and the
  report says how many there were.

What is collected is collected as nbgrader does it. `refusals` keeps (entry, reason) for the caller.
"""

from __future__ import annotations

import glob
import os
import pwd
from collections import defaultdict

from nbgrader.api import Gradebook
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import parse_utc


class CourseCollect(ExchangeCollect):
    """ExchangeCollect that sorts out the entries it cannot trust, each with its reason, and goes on."""

    def _entry(self, path: str) -> tuple[dict | None, str]:
        """An inbound entry as nbgrader's record, or None and why it is not one."""
        name = os.path.basename(path)
        parts = name.rsplit("+", 3)
        if len(parts) == 4 and parts[1] != self.coursedir.assignment_id:  # an older nbgrader's name, without random
            parts = name.rsplit("+", 2)
        if len(parts) < 3 or not parts[0] or parts[1] != self.coursedir.assignment_id:
            return None, "its name is not learner+assignment+time+random, as nbgrader submit writes it"
        try:
            timestamp = parse_utc(parts[2])
        except (ValueError, OverflowError, TypeError):
            return None, f"its time {parts[2]!r} is not a time"
        learner = parts[0]
        try:
            claimed = pwd.getpwnam(learner).pw_uid
            owner = os.stat(path).st_uid
        except (KeyError, OSError):
            claimed = owner = None  # not a Unix account (an exchange shared some other way): nothing to compare
        if claimed is not None and owner != claimed:
            try:
                by = pwd.getpwuid(owner).pw_name
            except KeyError:
                by = f"uid {owner}"
            return None, f"it claims to be {learner}'s but belongs to {by}"
        return {"username": learner, "filename": name, "timestamp": timestamp}, ""

    def _refuse(self, entry: str, reason: str) -> None:
        self.refusals.append((entry, reason))
        self.log.warning("Not collected: %s: %s", entry, reason)

    def init_src(self) -> None:
        self.refusals: list[tuple[str, str]] = []
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        assignment = self.coursedir.assignment_id
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        learner = self.coursedir.student_id or "*"
        paths = sorted(glob.glob(os.path.join(self.inbound_path, f"{learner}+{assignment}+*")))
        self.src_records = []
        if not os.path.isdir(os.path.join(self.course_path, "outbound", assignment)):
            for path in paths:
                self._refuse(os.path.basename(path), f"{assignment} was never released, so it cannot be submitted")
            return
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            roster = {s.id for s in gb.students}
        groups: dict[str, list[dict]] = defaultdict(list)
        for path in paths:
            record, reason = self._entry(path)
            if record is None:
                self._refuse(os.path.basename(path), reason)
            elif roster and record["username"] not in roster:
                self._refuse(record["filename"], f"{record['username']} is not on the course's roster (the gradebook's "
                                                 f"students; add them with `nbgrader db student add`)")
            else:
                groups[record["username"]].append(record)
        for name, records in sorted(groups.items()):
            records = self._sort_by_timestamp(records)
            if len(records) > 1:
                self.log.warning("%s submitted %s %d times: the latest (%s) is collected", name, assignment,
                                 len(records), records[0]["timestamp"])
            self.src_records.append(records[0])
