"""The checkpoint's canonical form and HMAC, the key settings, and the chain of checkpoints
(forged, removed, reordered, forked, repeated) checked without a database."""

import hashlib
import hmac
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.audit.checkpoints import AuditKey, CheckpointError, canonical, fold, load_key, require_key
from engine.config import Settings

KEY = AuditKey(b"k" * 32)


def _chain(*deltas: list[list[Any]], key: AuditKey = KEY) -> list[dict[str, Any]]:
    """Checkpoints as the checkpointer makes them, one per delta."""
    records: list[dict[str, Any]] = []
    heads: dict[str, int] = {}
    for delta in deltas:
        prev = records[-1] if records else None
        heads.update({d: s for d, s, _ in delta})
        record = {"seq": len(records) + 1, "prev_sig": prev["sig"] if prev else None, "key_id": key.key_id,
                  "created_at": "2026-12-04T10:00:00.000000+00:00", "reason": "interval", "delta": delta,
                  "total_denials": len(heads), "total_entries": sum(heads.values())}  # fmt: skip
        records.append({**record, "sig": key.sign(record)})
    return records


def _lines(records: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(r) for r in records]


CHAIN = _chain([["a", 2, "a2"], ["b", 1, "b1"]], [["a", 3, "a3"]], [["c", 1, "c1"], ["b", 2, "b2"]])


def test_the_hmac_covers_the_canonical_json_without_the_signature() -> None:
    record = {"seq": 1, "b": [1, "x"], "a": None, "sig": "ignored"}
    assert canonical(record) == b'{"a":null,"b":[1,"x"],"seq":1}'
    assert KEY.sign(record) == hmac.new(b"k" * 32, canonical(record), hashlib.sha256).hexdigest()
    assert KEY.key_id == hashlib.sha256(b"k" * 32).hexdigest()[:16]
    assert "k" * 32 not in repr(KEY)


def test_an_honest_chain_folds_into_the_last_signed_head_per_denial() -> None:
    signed = fold(_lines(CHAIN), KEY)
    assert signed.findings == [] and signed.checkpoints == 3
    assert signed.heads == {"a": (3, "a3"), "b": (2, "b2"), "c": (1, "c1")}


def test_a_repeated_checkpoint_is_the_relays_redelivery_not_a_finding() -> None:
    lines = _lines(CHAIN)
    assert fold([lines[0], lines[1], lines[1], lines[2]], KEY).findings == []


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ([1, 2], "checkpoint 2 does not follow the start"),
        ([0, 2], "checkpoint 3 does not follow checkpoint 1"),
        ([0, 2, 1], "checkpoint 2 does not follow checkpoint 3"),
    ],
    ids=["first removed", "middle removed", "reordered"],
)
def test_a_removed_or_reordered_checkpoint_breaks_the_chain(lines: list[int], problem: str) -> None:
    signed = fold([_lines(CHAIN)[i] for i in lines], KEY)
    assert any(problem in str(f) for f in signed.findings), signed.findings


def test_a_forged_checkpoint_is_refused_and_not_folded() -> None:
    forged = {**CHAIN[1], "delta": [["a", 3, "rewritten"]]}
    signed = fold(_lines([CHAIN[0], forged, CHAIN[2]]), KEY)
    assert [str(f) for f in signed.findings] == [
        "checkpoint 2: the signature does not match (forged or altered)",
        "checkpoint 3 does not follow checkpoint 1: checkpoints removed, reordered or forged",
    ]
    assert signed.heads["a"] == (2, "a2")


def test_another_keys_checkpoints_and_a_fork_are_findings() -> None:
    other = _chain([["a", 2, "a2"]], key=AuditKey(b"o" * 32))
    assert "is signed with key" in str(fold(_lines(other), KEY).findings[0])
    fork = _chain([["a", 2, "a2"], ["b", 1, "b1"]], [["z", 1, "z1"]])
    assert "the checkpoint chain forked" in str(fold(_lines([*CHAIN, fork[1]]), KEY).findings[0])
    assert "is not a checkpoint" in str(fold([b"{not json"], KEY).findings[0])


def test_totals_that_do_not_match_the_deltas_are_a_finding() -> None:
    record = {k: v for k, v in CHAIN[0].items() if k != "sig"} | {"total_entries": 99}
    assert "do not add up" in str(fold(_lines([{**record, "sig": KEY.sign(record)}]), KEY).findings[0])


def test_the_key_comes_from_its_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_bytes(b"f" * 32 + b"\n")
    assert load_key(Settings(audit_key_file=path, audit_key="e" * 32)) == AuditKey(b"f" * 32)  # the file wins
    assert load_key(Settings(audit_key="e" * 32)) == AuditKey(b"e" * 32)
    assert load_key(Settings(audit_key=None, audit_key_file=None)) is None  # checkpointing is off


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "no audit key: set DENIALFLOW_AUDIT_KEY_FILE"),
        ({"audit_key": "short"}, "shorter than 16 bytes"),
        ({"audit_key_file": Path("/nonexistent/audit.key")}, "DENIALFLOW_AUDIT_KEY_FILE /nonexistent/audit.key: "),
    ],
)
def test_no_usable_key_is_one_clear_error(given: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        require_key(Settings(**{"audit_key": None, "audit_key_file": None, **given}))
