"""Run an installed `kfm-wal` over the golden vectors and check each verdict: every valid log
exits 0; every invalid one exits 1 and its first finding is the vector's expected error, at the
expected segment, offset and seq, and `--fail-fast` reports exactly that finding alone; every
refused case exits 2 with no report. A case is verified with its own keyring.json if it has one
(else the shared one) and from its receipt.json if it has one (a copy: `--receipt` rewrites the
file after a valid run). Uses only the command line and the standard library, so it checks a
wheel installed in a clean virtualenv, not the source tree.

    python .ci/validate_vectors.py [KFM_WAL_COMMAND]   (default: kfm-wal on PATH)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "data" / "vectors"
LOCATION = ("code", "segment", "offset", "seq")


def validate(command: str, log: Path, *extra: str) -> tuple[int, dict[str, object]]:
    keyring = log / "keyring.json" if (log / "keyring.json").exists() else VECTORS / "keyring.json"
    args = [command, "validate", str(log), "--keyring", str(keyring), "--json", *extra]
    with tempfile.TemporaryDirectory() as scratch:
        if (log / "receipt.json").exists():
            receipt = Path(scratch) / "receipt.json"
            shutil.copyfile(log / "receipt.json", receipt)
            args += ["--receipt", str(receipt)]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report


def located(report: dict[str, object]) -> list[dict[str, object]]:
    findings = report.get("findings")
    return [{k: f.get(k) for k in LOCATION} for f in findings] if isinstance(findings, list) else []


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
        first = (located(report) or [{}])[0]
        want = {"code": expected["error"], **{k: expected[k] for k in ("segment", "offset", "seq")}}
        if code != 1 or first != want:
            wrong.append(f"invalid/{log.name}: exit {code}, first finding {first}, expected {want}")
        fast_code, fast = validate(command, log, "--fail-fast")
        if fast_code != 1 or located(fast) != [want]:
            wrong.append(f"invalid/{log.name} --fail-fast: exit {fast_code}, findings {located(fast)}, expected {want}")
    for log in sorted((VECTORS / "refused").iterdir()):
        cases += 1
        code, report = validate(command, log)
        if code != 2 or report:
            wrong.append(f"refused/{log.name}: exit {code}, report {report or 'none'}, expected exit 2 and no report")
    for line in wrong:
        print(line)
    print(f"{cases - len(wrong)} passed, {len(wrong)} failed")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
