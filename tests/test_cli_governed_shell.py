"""Governance from the shell as a new user meets it: a reviewer's key trusted with `keys trust`
(no keyring edited by hand), a refusal that says how to get the approvals, the ledger asked of
the operations log by mistake, and the retry of a governed graph operation through
`retry --request`. Each failure is one error line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import assert_one_error_line, init_log, record_count, run
from kfm_wal import Wal, keys, ops, provision, verify
from kfm_wal.governance import approve
from kfm_wal.governance.gate import Governor
from shellgovtools import digest_of, shell_log

SEAT = "<https://example.org/douglas> <https://example.org/seat> <https://example.org/lawrence> ."
SPEC = {
    "actor": {"type": "developer", "id": "ana"},
    "tier": 1,
    "governance": {"care": "public"},
    "telemetry": {"id": "shell-trust"},
    "graph": "graph",
    "actions": [{"type": "graph.insert", "ntriples": SEAT}],
}


def test_a_new_user_trusts_a_reviewer_and_runs_a_governed_operation(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    made = run("keys", "generate", "--out", tmp_path / "bo.pem")
    public_key = next(line.split()[1] for line in made.stdout.splitlines() if line.startswith("public_key"))
    trusted = run("keys", "trust", log, "--public-key", public_key, "--role", "maintainer", "--name", "bo")
    assert trusted.exit_code == 0, trusted.output
    ring = keys.load_keyring(provision.default_keyring_path(log))
    bo = keys.load(tmp_path / "bo.pem")
    found = ring.get(bo.key_id)
    assert found is not None and (found.roles, found.name) == (("maintainer",), "bo")
    assert len(ring.keys) == 2  # the writer's key kept

    assert_one_error_line(run("ledger", tmp_path / "governance" / "ledger"), "no governance ledger", "first governed")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    count = record_count(log)
    assert_one_error_line(run("run", log, spec), "needs 1 approval(s)", "kfm-wal request", "--approvals")
    assert record_count(log) == count
    assert run("request", spec, "--out", tmp_path / "request.json").exit_code == 0
    approval = run("approve", tmp_path / "request.json", "--key", tmp_path / "bo.pem", "--role", "maintainer")
    (tmp_path / "approval.json").write_text(approval.stdout)
    done = run("run", log, spec, "--approvals", tmp_path / "approval.json", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "succeeded"

    assert_one_error_line(run("ledger", log), "is an operations log, not a governance ledger", "governance/ledger")
    shown = run("ledger", tmp_path / "governance" / "ledger", "--json")
    assert [json.loads(line)["decision"] for line in shown.stdout.splitlines()] == ["refused", "allowed"]


def test_keys_trust_bad_input_is_one_error_line_and_changes_no_keyring(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    ring_file = provision.default_keyring_path(log)
    before = ring_file.read_bytes()
    good = keys.generate().public_key
    assert_one_error_line(run("keys", "trust", log, "--public-key", "not base64!", "--role", "m"), "--public-key")
    assert_one_error_line(run("keys", "trust", log, "--public-key", "AAAA", "--role", "m"), "32 bytes")
    assert_one_error_line(run("keys", "trust", log, "--public-key", good), "--role")
    assert_one_error_line(run("keys", "trust", "--public-key", good, "--role", "m"), "--keyring")
    assert_one_error_line(
        run("keys", "trust", tmp_path / "nolog", "--public-key", good, "--role", "m"), "not a kfm-wal"
    )
    assert ring_file.read_bytes() == before
    own = tmp_path / "ring.json"  # a keyring of its own, created when missing
    assert run("keys", "trust", "--keyring", own, "--public-key", good, "--role", "reviewer").exit_code == 0
    assert [k.roles for k in keys.load_keyring(own).keys] == [("reviewer",)]


def test_retry_of_a_governed_graph_operation_from_the_shell(tmp_path: Path) -> None:
    """A tier-1 graph insert refused (its triple appeared between planning and execution) is
    retried from the shell: `retry --request`, `approve`, `retry --approvals`."""
    shell = shell_log(tmp_path)
    bo = keys.load(shell.key("bo"))
    governor = Governor.for_log(shell.log, approver=lambda request: [approve(request, bo, "maintainer")])
    store = ops.GraphStore.open(tmp_path / "graph")
    with Wal.open(shell.log, keys.load(provision.default_key_path(shell.log))) as wal:
        prepared = ops.prepare(
            wal,
            [ops.graph.Insert([SEAT])],
            actor={"type": "developer", "id": "ana"},
            tier=1,
            governance={"care": "public"},
            telemetry={"id": "t"},
            graph=store,
            governor=governor,
        )
        store.update([], ops.graph.canonical([SEAT]))  # someone else's change: the operation is refused
        try:
            ops.execute(wal, prepared)
        except ops.StateChangedError:
            pass
        else:
            raise AssertionError("the operation should have been refused")
    store.update(ops.graph.canonical([SEAT]), [])  # and undone by them: the retry can run
    wal_id = prepared.wal_id

    request_file = tmp_path / "retry-request.json"
    asked = run("retry", shell.log, wal_id, "--actor", "developer:ana", "--request", "--out", request_file)
    assert asked.exit_code == 0, asked.output
    request = json.loads(request_file.read_text())
    assert request["operation"] == "retry" and request["governance"]["retry_of"] == "etl_step"
    assert request["actions"] == [{"type": "graph.insert", "triples": ops.graph.canonical([SEAT]), "part": 0}]
    count = record_count(shell.log)
    retry = ("retry", shell.log, wal_id, "--actor", "developer:ana")
    assert_one_error_line(run(*retry), "needs 1 approval(s)", "retry ... --request")
    assert record_count(shell.log) == count
    approval = shell.approve(request_file, "cy", "data-steward")
    done = run(*retry, "--approvals", approval, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "succeeded"
    assert store.triples() == set(ops.graph.canonical([SEAT]))
    assert shell.decisions()[-1]["request_digest"] == digest_of(request_file)
    assert verify(shell.log).ok
