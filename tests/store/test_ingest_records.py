"""The ingest record on SQLite and PostgreSQL: one row per file's bytes however often it is
read, a refused file's bytes kept in quarantine beside its record, and a release that sticks."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from engine.errors import NotFound
from engine.intake import ingest_records, quarantine
from engine.intake.ingest import FileResult, ingest_file
from engine.intake.x12.denials import Tally
from tests.factories import T0
from tests.ingest.envelope_files import ENVELOPE_FILES

ENVELOPE = Path(__file__).parents[1] / "data" / "835" / "envelope"
REFUSED = next(name for name, (refusal, _) in ENVELOPE_FILES.items() if refusal)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ingest_records.INGEST_FILES)) or 0)


def test_the_same_file_twice_is_one_row_seen_twice(engine: Engine, tmp_path: Path) -> None:
    path = ENVELOPE / "unbalanced.835"
    first = ingest_file(path, lambda key, value: None)
    kept = tmp_path / "quarantine"
    quarantine.remember(engine, kept, first, path, T0)
    quarantine.remember(engine, kept, ingest_file(path, lambda key, value: None), path, T0 + timedelta(hours=2))
    assert _count(engine) == 1
    with engine.connect() as conn:
        row = ingest_records.find(conn, first.digest[:10])  # type: ignore[index]
    assert (row.digest, row.status, row.error) == (first.digest, "accepted", None)
    assert (row.first_seen_at.replace(tzinfo=None), row.last_seen_at.replace(tzinfo=None)) == (
        T0.replace(tzinfo=None), (T0 + timedelta(hours=2)).replace(tzinfo=None))  # fmt: skip
    assert [w["code"] for w in row.warnings] == ["balance.bpr02"] and "180.00" in row.warnings[0]["message"]
    assert row.counts["claims"] == 2 and row.counts["published"] == first.published > 0
    assert row.provider_adjustments == [{"payer_id": "ACME01", "trace": "EFT20261201A", "provider_id": "1234567893",
                                         "fiscal_period": "2026-12-31", "reason": "WO", "reference": "ICN0999",
                                         "amount": "20.00"}]  # fmt: skip
    assert not kept.exists()  # an accepted file is not quarantined


def test_a_refused_file_is_quarantined_by_digest_and_released_once(engine: Engine, tmp_path: Path) -> None:
    path, kept = ENVELOPE / REFUSED, tmp_path / "quarantine"
    refused = ingest_file(path, lambda key, value: None)
    assert refused.error is not None and refused.digest is not None
    quarantine.remember(engine, kept, refused, path, T0)
    assert quarantine.kept(kept, refused.digest).read_bytes() == path.read_bytes()
    with engine.connect() as conn:
        held = ingest_records.recent(conn, status=ingest_records.REFUSED)
    assert [(r.digest, r.error) for r in held] == [(refused.digest, refused.error)]
    fix = ingest_file(ENVELOPE / "intact.835", lambda key, value: None)
    with engine.begin() as conn:
        assert ingest_records.mark_released(conn, refused.digest, fix.digest or "", "lee.lead", "re-sent", T0)
        ingest_records.record(conn, fix, T0)
        assert not ingest_records.mark_released(conn, refused.digest, fix.digest or "", "someone", "again", T0)
    # the broken original sent again: seen again, still released, not refused anew
    quarantine.remember(engine, kept, ingest_file(path, lambda key, value: None), path, T0 + timedelta(days=1))
    with engine.connect() as conn:
        rows = {r.digest: r for r in ingest_records.recent(conn)}
    old = rows[refused.digest]
    assert (old.status, old.released_as, old.released_by, old.release_reason) == (
        "released", fix.digest, "lee.lead", "re-sent")  # fmt: skip
    assert rows[fix.digest].status == "accepted" and next(iter(rows)) == refused.digest  # newest first


def test_a_digest_prefix_must_name_one_record(engine: Engine) -> None:
    with engine.begin() as conn:
        for digest in ("abc1" + "0" * 60, "abc2" + "0" * 60):
            ingest_records.record(conn, FileResult(f"{digest[:4]}.835", Tally(), digest=digest), T0)
    with engine.connect() as conn:
        assert ingest_records.find(conn, "ABC1").digest == "abc1" + "0" * 60
        for prefix, problem in (("abc", "more than one ingest record"), ("ff", "no ingest record"), (" ", "empty")):
            with pytest.raises(NotFound, match=problem):
                ingest_records.find(conn, prefix)
