"""A validation rule for `kfm_wal.verify(path, rules=[...])`: the actions an ops operation
(files-1 or mixed-1 payload) executed are exactly the actions its intent recorded (the seed's
"payload matches the executed action"). Completions of other operations, and those without
executed_digest, are not judged."""

from __future__ import annotations

from collections.abc import Iterable

from ..reader import Record
from ..verify_rules import RecordRule
from .digests import actions_digest
from .files import PAYLOAD_FORMAT
from .kinds import MIXED_FORMAT


class ExecutedMatchesIntent(RecordRule):
    id = "ops.executed_digest"
    description = "a file operation's executed_digest equals the digest of its intent's payload actions"

    def __init__(self) -> None:
        self._intents: dict[str, str] = {}  # wal_id -> digest of its payload actions

    def check(self, record: Record) -> Iterable[str]:
        body = record.body
        if record.kind == "intent" and body["payload"].get("format") in (PAYLOAD_FORMAT, MIXED_FORMAT):
            self._intents[body["wal_id"]] = actions_digest(body["payload"].get("actions"))
        elif record.kind == "completion" and "executed_digest" in body:
            expected = self._intents.pop(body["wal_id"], None)
            if expected is not None and body["executed_digest"] != expected:
                yield f"executed_digest {body['executed_digest']} differs from the intent's actions digest {expected}"


__all__ = ["ExecutedMatchesIntent"]
