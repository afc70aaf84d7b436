"""Governance: policy files, approvals over the canonical request digest, the guard (decide before
anything runs), the governance ledger, and the gov.* validation rules."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kfm_wal
import pytest
from kfm_wal import Wal, keys
from kfm_wal.governance import (
    APPROVAL_DOMAIN,
    ApprovalsValid,
    CareMetadataValid,
    GovernanceError,
    Ledger,
    PolicyError,
    approve,
    build_request,
    check,
    default_policy,
    default_policy_bytes,
    governed_run,
    load_policy,
    parse_policy,
    request_digest,
    request_from_intent,
)
from kfm_wal.ops import ExecutedMatchesIntent, Write

ACTOR = {"type": "ci", "id": "etl-runner"}
TEL = {"id": "focus-gov"}


@pytest.fixture(scope="module")
def people() -> dict[str, keys.SigningKey]:
    return {name: keys.generate() for name in ("author", "maint", "maint2", "steward", "reviewer", "outsider")}


@pytest.fixture(scope="module")
def ring(people: dict[str, keys.SigningKey]) -> keys.Keyring:
    r = keys.Keyring(())
    r = r.with_key(people["author"], ("maintainer",), "etl-runner")  # the author holds a role too
    r = r.with_key(people["maint"], ("maintainer",), "ana")
    r = r.with_key(people["maint2"], ("maintainer",), "bo")
    r = r.with_key(people["steward"], ("data-steward",), "cy")
    r = r.with_key(people["reviewer"], ("reviewer",), "di")
    return r


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Wal, Ledger, Path]]:
    key = keys.generate()
    root = tmp_path / "data" / "processed"
    with (
        Wal.create(tmp_path / "wal", key, durability="none") as wal,
        Ledger.open(tmp_path / "governance" / "ledger", key, durability="none") as ledger,
    ):
        yield wal, ledger, root


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []


def req(tier: int = 2, care: str = "public", **gov: Any) -> dict[str, Any]:
    return build_request([Write("out/a.csv", b"id\n1\n")], actor=ACTOR, tier=tier, governance={"care": care, **gov})


# -- policy --------------------------------------------------------------------------------------


def test_default_policy_parses_and_hashes_its_bytes() -> None:
    p = default_policy()
    assert p.version == 1
    assert p.version_hash == "sha256:" + hashlib.sha256(default_policy_bytes()).hexdigest()
    assert [p.tiers[t].approvals for t in range(5)] == [0, 1, 1, 2, 2]
    assert p.tiers[2].roles == ("maintainer",)
    assert p.tiers[4].operations == ("rollback",) and p.tiers[4].required_roles == ("data-steward",)
    assert p.override_role == "data-steward" and p.masking_required


@pytest.mark.parametrize(
    ("mutate", "key", "words"),
    [
        (lambda t: t.replace("version = 1", ""), "version", "missing"),
        (lambda t: t.replace("version = 1", "version = 0"), "version", "positive integer"),
        (lambda t: t.replace("version = 1", "version = 1\nowner = 'x'"), "owner", "unknown key"),
        (
            lambda t: t.replace('operations = ["rollback"]', 'operations = ["etl_step"]'),
            "tiers.4.operations",
            "reserved for rollback",
        ),
        (
            lambda t: t.replace("[tiers.3]\napprovals = 2", "[tiers.3]\napprovals = 'two'"),
            "tiers.3.approvals",
            "integer",
        ),
        (
            lambda t: t.replace("[tiers.2]\napprovals = 1\n", "[tiers.2]\napprovals = 1\napprovers = 3\n"),
            "tiers.2.approvers",
            "unknown key",
        ),
        (lambda t: t.replace('override_role = "data-steward"', ""), "care.override_role", "missing"),
        (
            lambda t: t.replace("masking_required = true", "masking_required = 'yes'"),
            "care.masking_required",
            "true or false",
        ),
        (
            lambda t: t.replace('required_roles = ["data-steward"]', 'required_roles = ["auditor"]'),
            "tiers.4.required_roles",
            "not in tiers.4.roles",
        ),
        (lambda t: t[: t.index("[tiers.4]")], "tiers.4", "missing"),
        (lambda t: t + "\n[tiers.5]\napprovals = 0\n", "tiers.5", "unknown tier"),
        (
            lambda t: t.replace('operations = ["*"]', 'operations = ["*", "etl_step"]', 1),
            "tiers.0.operations",
            "stand alone",
        ),
    ],
)
def test_policy_errors_name_file_and_key(tmp_path: Path, mutate: Any, key: str, words: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(mutate(default_policy_bytes().decode()))
    with pytest.raises(PolicyError) as e:
        load_policy(path)
    assert e.value.file == str(path) and e.value.key == key
    assert str(e.value).startswith(f"{path}: {key}: ") and words in str(e.value)


def test_policy_file_problems(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy"):
        load_policy(tmp_path / "nope.toml")
    with pytest.raises(PolicyError, match="not valid TOML") as e:
        parse_policy(b"version = = 1", "p.toml")
    assert e.value.file == "p.toml" and e.value.key is None
    assert isinstance(e.value, kfm_wal.UsageError)


# -- approvals and decisions ---------------------------------------------------------------------


def test_canonical_digest_is_reproducible_from_its_definition(people: dict[str, keys.SigningKey]) -> None:
    request = req(2, "sensitive", masking=["drop:ssn"])
    signed = {k: request[k] for k in ("operation", "actor", "tier", "governance", "lineage_links", "actions_digest")}
    expected_actions = [
        {
            "type": "file.write",
            "path": "out/a.csv",
            "blob": "sha256:" + hashlib.sha256(b"id\n1\n").hexdigest(),
            "bytes": 5,
        }
    ]
    canon = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()  # noqa: E731
    assert request["actions"] == expected_actions
    assert request["actions_digest"] == "sha256:" + hashlib.sha256(canon(expected_actions)).hexdigest()
    hexdigest = hashlib.sha256(canon(signed)).hexdigest()
    assert request_digest(request) == "sha256:" + hexdigest
    approval = approve(request, people["maint"], "maintainer")
    assert set(approval) == {"key_id", "role", "signature"}
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(base64.b64decode(people["maint"].public_key)).verify(
        base64.b64decode(approval["signature"]), b"kfm-wal/1 approval\n" + hexdigest.encode()
    )
    assert APPROVAL_DOMAIN == b"kfm-wal/1 approval\n"
    # approvals/policy members of governance are not signed; a JSON round trip changes nothing
    again = json.loads(json.dumps({**request, "governance": {**request["governance"], "approvals": [approval]}}))
    assert request_digest(again) == request_digest(request)


def test_valid_approval_allows(people: dict[str, keys.SigningKey], ring: keys.Keyring) -> None:
    request = req(2)
    d = check(request, [approve(request, people["maint"], "maintainer")], ring, default_policy())
    assert d.allowed and d.reasons == [] and d.approvals[0]["counted"]


def _reasons(request: dict[str, Any], approvals: list[Any], ring: keys.Keyring) -> list[str]:
    d = check(request, approvals, ring, default_policy())
    assert not d.allowed
    return d.reasons


def test_refusal_reasons(people: dict[str, keys.SigningKey], ring: keys.Keyring) -> None:
    p = people
    r2 = req(2)
    assert _reasons(r2, [], ring) == ["tier 2 needs 1 approval(s) by role maintainer; got 0"]
    # forged: signed by an outsider, presented under the maintainer's key id
    forged = {**approve(r2, p["outsider"], "maintainer"), "key_id": p["maint"].key_id}
    assert f"approval by {p['maint'].key_id} does not verify (forged, or for another request)" in _reasons(
        r2, [forged], ring
    )
    # an approval of another request (different content) does not carry over
    other = build_request([Write("out/a.csv", b"id\n2\n")], actor=ACTOR, tier=2, governance={"care": "public"})
    assert any("does not verify" in r for r in _reasons(r2, [approve(other, p["maint"], "maintainer")], ring))
    # wrong role for the tier: the reviewer's approval is valid but does not count at tier 2
    assert _reasons(r2, [approve(r2, p["reviewer"], "reviewer")], ring) == [
        "tier 2 needs 1 approval(s) by role maintainer; got 0"
    ]
    # a role the keyring does not give the key
    assert any(
        "claims role maintainer, which the keyring does not give it" in r
        for r in _reasons(r2, [approve(r2, p["reviewer"], "maintainer")], ring)
    )
    # the author's own approval (keyring name == actor.id)
    assert any(
        r.startswith("the author may not approve their own operation")
        for r in _reasons(r2, [approve(r2, p["author"], "maintainer")], ring)
    )
    assert any("key is not in the keyring" in r for r in _reasons(r2, [approve(r2, p["outsider"], "maintainer")], ring))
    twice = [approve(r2, p["maint"], "maintainer")] * 2
    assert any("appears more than once" in r for r in _reasons(r2, twice, ring))
    assert any("malformed" in r for r in _reasons(r2, [{"key_id": "x"}], ring))
    # insufficient count at tier 3 (snapshot declared)
    r3 = req(3, snapshot="wal:snap-1")
    assert _reasons(r3, [approve(r3, p["maint"], "maintainer")], ring) == [
        "tier 3 needs 2 approval(s) by role maintainer or data-steward; got 1"
    ]
    assert "tier 3 requires a snapshot first: governance.snapshot is missing" in _reasons(req(3), [], ring)
    # CARE labels
    rr = req(1, "restricted")
    assert _reasons(rr, [approve(rr, p["maint"], "maintainer")], ring) == [
        "restricted data needs an approval with role data-steward"
    ]
    assert check(rr, [approve(rr, p["steward"], "data-steward")], ring, default_policy()).allowed
    rs = req(1, "sensitive")
    assert _reasons(rs, [approve(rs, p["maint"], "maintainer")], ring) == [
        "sensitive data needs a declared masking step (governance.masking)"
    ]
    rs_masked = req(1, "sensitive", masking=["hash:email"])
    assert check(rs_masked, [approve(rs_masked, p["maint"], "maintainer")], ring, default_policy()).allowed
    # tier 4 is for rollback only, and needs a data steward among two approvals
    r4 = req(4, snapshot="wal:s")
    assert any(r.startswith("operation etl_step may not use tier 4") for r in _reasons(r4, [], ring))
    rb = build_request(
        [Write("a", b"x")],
        actor=ACTOR,
        tier=4,
        governance={"care": "public", "snapshot": "wal:s"},
        operation="rollback",
    )
    two = [approve(rb, p["maint"], "maintainer"), approve(rb, p["maint2"], "maintainer")]
    assert _reasons(rb, two, ring) == ["tier 4 needs an approval with role data-steward"]
    ok = [approve(rb, p["maint"], "maintainer"), approve(rb, p["steward"], "data-steward")]
    assert check(rb, ok, ring, default_policy()).allowed


def test_request_file_checks(people: dict[str, keys.SigningKey]) -> None:
    request = req(2)
    with pytest.raises(kfm_wal.UsageError, match="do not hash to its actions_digest"):
        approve({**request, "actions": [{"type": "file.delete", "path": "x"}]}, people["maint"], "maintainer")
    with pytest.raises(kfm_wal.UsageError, match="missing member"):
        approve({"operation": "etl_step"}, people["maint"], "maintainer")
    with pytest.raises(kfm_wal.UsageError, match="escape|relative path"):
        build_request([Write("../x", b"")], actor=ACTOR, tier=0, governance={"care": "public"})


# -- the guard and the ledger --------------------------------------------------------------------

REFUSALS = [
    ("no approvals", 2, {"care": "public"}, [], "tier 2 needs 1 approval(s) by role maintainer; got 0"),
    ("forged", 2, {"care": "public"}, ["forged"], "does not verify"),
    ("wrong role", 2, {"care": "public"}, [("reviewer", "reviewer")], "by role maintainer; got 0"),
    ("self", 1, {"care": "public"}, [("author", "maintainer")], "the author may not approve their own operation"),
    ("count", 3, {"care": "public", "snapshot": "wal:s"}, [("maint", "maintainer")], "needs 2 approval(s)"),
    (
        "restricted",
        1,
        {"care": "restricted"},
        [("maint", "maintainer")],
        "restricted data needs an approval with role data-steward",
    ),
    ("sensitive", 1, {"care": "sensitive"}, [("maint", "maintainer")], "sensitive data needs a declared masking step"),
]


@pytest.mark.parametrize(("name", "tier", "gov", "who", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_before_execution(
    env: tuple[Wal, Ledger, Path],
    people: dict[str, keys.SigningKey],
    ring: keys.Keyring,
    name: str,
    tier: int,
    gov: dict[str, Any],
    who: list[Any],
    reason: str,
) -> None:
    wal, ledger, root = env
    actions = [Write("out/a.csv", b"id\n1\n")]
    request = build_request(actions, actor=ACTOR, tier=tier, governance=gov)
    approvals = [
        {**approve(request, people["outsider"], "maintainer"), "key_id": people["maint"].key_id}
        if w == "forged"
        else approve(request, people[w[0]], w[1])
        for w in who
    ]
    with pytest.raises(GovernanceError) as e:
        governed_run(
            wal,
            actions,
            actor=ACTOR,
            tier=tier,
            governance=gov,
            telemetry=TEL,
            approvals=approvals,
            policy=default_policy(),
            keyring=ring,
            ledger=ledger,
            root=root,
        )
    assert reason in str(e.value) and "nothing executed" in str(e.value)
    assert isinstance(e.value, kfm_wal.WalError) and e.value.decision is not None
    assert files_under(root) == []
    assert list(wal.records(kind="intent")) == []
    (entry,) = ledger.entries()
    assert entry["decision"] == "refused" and entry["wal_id"] is None and entry["status"] is None
    assert any(reason in r for r in entry["reasons"])
    assert entry["policy"] == default_policy().version_hash and entry["tier"] == tier
    assert entry["care"] == gov["care"] and entry["request_digest"] == request_digest(request)
    assert kfm_wal.verify(ledger.path).ok


def test_allowed_run_writes_files_and_ledger(
    env: tuple[Wal, Ledger, Path], people: dict[str, keys.SigningKey], ring: keys.Keyring
) -> None:
    wal, ledger, root = env
    policy = default_policy()
    actions = [Write("out/a.csv", b"id\n1\n"), Write("out/b.csv", b"id\n2\n")]
    gov = {"care": "restricted"}
    request = build_request(actions, actor=ACTOR, tier=2, governance=gov)
    # the request survives a trip through a file, as `kfm-wal approve REQUEST_FILE` would use it
    from_file = json.loads(json.dumps(request))
    approvals = [
        approve(from_file, people["maint"], "maintainer"),
        approve(from_file, people["steward"], "data-steward"),
    ]
    result = governed_run(
        wal,
        actions,
        actor=ACTOR,
        tier=2,
        governance=gov,
        telemetry=TEL,
        approvals=approvals,
        policy=policy,
        keyring=ring,
        ledger=ledger,
        root=root,
    )
    assert result.status == "succeeded"
    assert (root / "out" / "a.csv").read_bytes() == b"id\n1\n" and (root / "out" / "b.csv").exists()
    intent = wal.intent(result.wal_id)
    assert intent is not None
    assert intent.body["governance"] == {"care": "restricted", "approvals": approvals, "policy": policy.version_hash}
    assert request_digest(request_from_intent(intent.body)) == request_digest(request)
    (entry,) = ledger.entries()
    assert entry["decision"] == "allowed" and entry["wal_id"] == result.wal_id and entry["status"] == "succeeded"
    assert [(a["key_id"], a["role"]) for a in entry["approvals"]] == [
        (people["maint"].key_id, "maintainer"),
        (people["steward"].key_id, "data-steward"),
    ]
    assert entry["care"] == "restricted" and entry["tier"] == 2 and entry["policy"] == policy.version_hash
    ledger_report = kfm_wal.verify(ledger.path)
    assert ledger_report.ok and ledger_report.pending == 0, ledger_report.findings
    rules = [ApprovalsValid(policy, ring), CareMetadataValid(policy), ExecutedMatchesIntent()]
    report = kfm_wal.verify(wal.path, rules=rules)
    assert report.ok, report.findings
    assert {"gov.approvals", "gov.care"} <= set(report.rules)
    # a tier 0 operation needs no approval and leaves no ledger record
    governed_run(
        wal,
        [Write("out/c.csv", b"c")],
        actor=ACTOR,
        tier=0,
        governance={"care": "public"},
        telemetry=TEL,
        policy=policy,
        keyring=ring,
        ledger=ledger,
        root=root,
    )
    assert len(list(ledger.entries())) == 1


def test_symlinked_path_is_refused(
    env: tuple[Wal, Ledger, Path], people: dict[str, keys.SigningKey], ring: keys.Keyring
) -> None:
    wal, ledger, root = env
    (root / "real").mkdir(parents=True)
    (root / "link").symlink_to(root / "real")
    actions = [Write("link/a.csv", b"x")]
    request = build_request(actions, actor=ACTOR, tier=1, governance={"care": "public"})
    with pytest.raises(GovernanceError, match="resolves to real/a.csv"):
        governed_run(
            wal,
            actions,
            actor=ACTOR,
            tier=1,
            governance={"care": "public"},
            telemetry=TEL,
            approvals=[approve(request, people["maint"], "maintainer")],
            policy=default_policy(),
            keyring=ring,
            ledger=ledger,
            root=root,
        )
    assert not (root / "real" / "a.csv").exists() and list(wal.records(kind="intent")) == []
    assert [e["decision"] for e in ledger.entries()] == ["refused"]


def test_approvals_field_in_governance_is_a_usage_error(env: tuple[Wal, Ledger, Path], ring: keys.Keyring) -> None:
    wal, ledger, root = env
    with pytest.raises(kfm_wal.UsageError, match="approvals="):
        governed_run(
            wal,
            [Write("a", b"")],
            actor=ACTOR,
            tier=0,
            governance={"care": "public", "approvals": []},
            telemetry=TEL,
            policy=default_policy(),
            keyring=ring,
            ledger=ledger,
            root=root,
        )


# -- rules over a log ----------------------------------------------------------------------------


def test_rules_catch_forged_approvals_and_missing_care_metadata(
    env: tuple[Wal, Ledger, Path], people: dict[str, keys.SigningKey], ring: keys.Keyring
) -> None:
    wal, ledger, root = env
    policy = default_policy()
    actions = [Write("out/a.csv", b"id\n1\n")]
    gov = {"care": "public"}
    request = build_request(actions, actor=ACTOR, tier=2, governance=gov)
    good = governed_run(
        wal,
        actions,
        actor=ACTOR,
        tier=2,
        governance=gov,
        telemetry=TEL,
        policy=policy,
        keyring=ring,
        ledger=ledger,
        root=root,
        approvals=[approve(request, people["maint"], "maintainer")],
    )
    # entries written around the guard: a forged approval, a sensitive one without masking, a
    # restricted one without a steward
    body = wal.intent(good.wal_id)
    assert body is not None
    entry = {k: v for k, v in body.body.items() if k not in ("seq", "prev", "kind", "timestamp", "hash", "wal_id")}
    forged = {**approve(request, people["outsider"], "maintainer"), "key_id": people["maint"].key_id}
    bad = [
        {**entry, "governance": {"care": "public", "approvals": [forged]}},
        {**entry, "tier": 0, "governance": {"care": "sensitive", "approvals": []}},
        {**entry, "tier": 0, "governance": {"care": "restricted", "approvals": []}},
    ]
    receipts = wal.append_many(bad)
    report = kfm_wal.verify(wal.path, rules=[ApprovalsValid(policy, ring), CareMetadataValid(policy)])
    found = [(f.code, f.wal_id, f.message) for f in report.findings]
    ids = [r.wal_id for r in receipts]
    assert (
        "gov.approvals",
        ids[0],
        f"approval by {people['maint'].key_id} does not verify (forged, or for another request)",
    ) in found
    assert ("gov.approvals", ids[0], "tier 2 needs 1 approval(s) by role maintainer; got 0") in found
    assert ("gov.care", ids[1], "sensitive data needs a declared masking step (governance.masking)") in found
    assert ("gov.care", ids[2], "restricted data needs an approval with role data-steward") in found
    assert ("gov.approvals", ids[2], "restricted data needs an approval with role data-steward") in found
    assert not any(f[1] == good.wal_id for f in found)
    # the ledger itself passes the governance rules (tier 0, public, no approvals needed)
    assert kfm_wal.verify(ledger.path, rules=[ApprovalsValid(policy, ring), CareMetadataValid(policy)]).ok
