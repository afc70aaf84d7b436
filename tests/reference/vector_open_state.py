"""valid/with-open-state: valid/basic with a clean-close state beside it (`open-state.json`,
`open-state.ids`, FORMAT.md section 7). A writer's convention, never read by a verifier: the log
verifies exactly as valid/basic, whatever those files hold (here, bytes no writer would accept)."""

from __future__ import annotations

import os

from vector_expectations import expected_valid, write_json
from vector_logs import BasicLog, copy_log


def write_open_state_valid(valid: str, basic: BasicLog, pending: list[str]) -> None:
    d = os.path.join(valid, "with-open-state")
    copy_log(basic.dir, d)
    with open(os.path.join(d, "open-state.json"), "w", encoding="utf-8") as f:
        f.write('{"format":"kfm-wal-open-state/1","seq":1}\nnot-a-signature\n')
    with open(os.path.join(d, "open-state.ids"), "wb") as f:
        f.write(bytes(range(16)))
    write_json(os.path.join(d, "expected.json"), expected_valid(basic.journal, pending))
