"""What a run ended as: the one result every command that runs an agent reports.

Its own module because the run (`runner.run`), the checks before it (`runner.run_gates`)
and the commands that render it (`tick`, `demo`, `ci_run`, `outcome`) all build or read
it, and none of them may import another for it without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.acceptance import Report
from runner.forge.base import Issue, PullRequest
from runner.records import RunRecord
from runner.transcript import Transcript


@dataclass
class RunOutcome:
    record: RunRecord
    pr: PullRequest | None = None
    issue: Issue | None = None
    report: Report | None = None
    commits: list[str] = field(default_factory=list)
    dry_run: str = ""
    skipped: str = ""  # why the run did not start (another live run holds the task)
    recorded: bool = False  # the run's final record is on the ledger
    events_cursor: str | None = None  # the forge's time before the delta's events were read
    transcript: Transcript = field(default_factory=lambda: Transcript(""))  # what the run did

    def __post_init__(self) -> None:
        if not self.transcript.run_id:
            self.transcript.run_id = self.record.run_id
