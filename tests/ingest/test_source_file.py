"""What `ingest_file` tells its caller: the file's SHA-256 (of every byte, also when the read
stopped early at a refusal), its warnings, and each published event whose schema has a
``source_file`` stamped with both. Pure: the events go to a list."""

import hashlib
from pathlib import Path
from typing import Any

import orjson

from engine.intake.events import parse
from engine.intake.ingest import ingest_file, stamped_types
from tests.ingest.test_envelope import ENVELOPE

SAMPLES = ENVELOPE.parent


def _ingest(path: Path) -> tuple[Any, list[dict[str, Any]]]:
    published: list[dict[str, Any]] = []
    result = ingest_file(path, lambda key, value: published.append(orjson.loads(value)))
    return result, published


def test_a_warned_file_publishes_events_naming_its_digest_and_warnings() -> None:
    path = ENVELOPE / "ge-iea-missing.835"
    result, published = _ingest(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    codes = ["envelope.ge_missing", "envelope.iea_missing"]
    assert (result.error, result.digest, result.warning_codes()) == (None, digest, codes)
    assert result.published == len(published) > 0 and result.transactions == 1
    for doc in published:
        assert doc["type"] in stamped_types()
        assert doc["data"]["source_file"] == {"digest": digest, "warnings": codes}
        assert parse(doc).data.source_file.digest == digest  # type: ignore[union-attr]


def test_an_intact_file_is_stamped_with_no_warnings_and_repeats_exactly() -> None:
    first, published = _ingest(ENVELOPE / "intact.835")
    again, repeated = _ingest(ENVELOPE / "intact.835")
    assert published == repeated and first.digest == again.digest
    assert {orjson.dumps(d["data"]["source_file"]) for d in published} == {
        orjson.dumps({"digest": first.digest, "warnings": []})}  # fmt: skip


def test_only_event_types_whose_schema_has_source_file_are_stamped() -> None:
    _, published = _ingest(SAMPLES / "X12Parser" / "Example1_GripElements.txt")  # reversals and denials
    kinds = {d["type"] for d in published}
    assert "denial.reversed" in kinds and "denial.received" in kinds
    for doc in published:
        assert ("source_file" in doc["data"]) == (doc["type"] in stamped_types())
        parse(doc)
    assert {"denial.received", "denial.paid"} <= stamped_types()


def test_a_refused_file_publishes_nothing_and_still_has_its_whole_digest() -> None:
    path = ENVELOPE / "svc-outside-claim.835"  # refused at segment 12, long before the end
    result, published = _ingest(path)
    assert published == [] and result.published == 0 and result.error is not None
    assert result.digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unreadable_file_has_no_digest(tmp_path: Path) -> None:
    result, published = _ingest(tmp_path / "missing.835")
    assert (result.digest, published) == (None, []) and result.error == "cannot read: No such file or directory"


def test_a_capitated_payer_s_co_24_is_no_denial(tmp_path: Path) -> None:
    """The payer profiles' capitated payers reach the events: CO-24 on their zero-paid claim is
    the capitation arrangement, not a denial."""
    path = tmp_path / "co24.835"
    raw = (ENVELOPE / "intact.835").read_bytes().replace(b"CAS*CO*197*95.00", b"CAS*CO*24*95.00")
    path.write_bytes(raw.replace(b"CLP*PCN-1002*4*", b"CLP*PCN-1002*1*"))  # processed as primary, nothing paid
    assert ingest_file(path, lambda key, value: None).tally.denials == 1
    assert ingest_file(path, lambda key, value: None, capitated={"ACME01"}).tally.denials == 0
