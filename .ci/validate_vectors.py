"""Run an installed `kfm-wal` over the golden vectors and check each verdict: every valid log
exits 0; every invalid one exits 1 and its first finding is the vector's expected error, at the
expected segment, offset and seq. Uses only the command line and the standard library, so it
checks a wheel installed in a clean virtualenv, not the source tree.

    python .ci/validate_vectors.py [KFM_WAL_COMMAND]   (default: kfm-wal on PATH)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "data" / "vectors"


def validate(command: str, log: Path) -> tuple[int, dict[str, object]]:
    keyring = VECTORS / "keyring.json"
    done = subprocess.run(
        [command, "validate", str(log), "--keyring", str(keyring), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else shutil.which("kfm-wal") or "kfm-wal"
    wrong: list[str] = []
    cases = 0
    for log in sorted((VECTORS / "valid").iterdir()):
        cases += 1
        code, report = validate(command, log)
        if code != 0:
            wrong.append(f"valid/{log.name}: exit {code}, findings {report.get('findings')}")
    for log in sorted((VECTORS / "invalid").iterdir()):
        cases += 1
        expected = json.loads((log / "expected.json").read_text())
        code, report = validate(command, log)
        findings = report.get("findings") or [{}]
        first = findings[0] if isinstance(findings, list) else {}
        got = {k: first.get(k) for k in ("code", "segment", "offset", "seq")}
        want = {"code": expected["error"], **{k: expected[k] for k in ("segment", "offset", "seq")}}
        if code != 1 or got != want:
            wrong.append(f"invalid/{log.name}: exit {code}, first finding {got}, expected {want}")
    for line in wrong:
        print(line)
    print(f"{cases - len(wrong)} passed, {len(wrong)} failed")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
