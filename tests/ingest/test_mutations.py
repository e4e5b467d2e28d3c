"""Property: a mutated real 835 (truncated, segments dropped or duplicated, separators and
counts corrupted) ends in a clear refusal that publishes nothing, or in a parse oxedi agrees
with; never in a crash or a partial publish."""

import oxedi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.intake.ingest import ingest_file
from tests.ingest.oxedi_reference import reference_view
from tests.ingest.test_samples import SAMPLES, _mine

BASES = ["pyx12/835_mult_loops.txt", "edi-835-parser/emedny_sample.txt", "X12Parser/Example1_GripElements.txt",
         "edi-835-parser/united_healthcare_legacy_sample.txt", "x12-parser/multi-line-not-delimited.edi"]  # fmt: skip


def _segments(raw: bytes) -> tuple[list[bytes], bytes]:
    terminator = raw[raw.index(b"ISA") + 105 : raw.index(b"ISA") + 106]
    return raw.split(terminator), terminator


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = (SAMPLES / draw(st.sampled_from(BASES))).read_bytes()
    parts, terminator = _segments(raw)
    kind = draw(st.sampled_from(["truncate", "drop", "duplicate", "swap_separator", "count", "byte"]))
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "byte":
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    i = draw(st.integers(0, len(parts) - 2))
    if kind == "drop":
        del parts[i]
    elif kind == "duplicate":
        parts.insert(i, parts[i])
    elif kind == "swap_separator":
        seg = parts[i]
        if b"*" in seg:
            at = draw(st.sampled_from([j for j, c in enumerate(seg) if c == ord("*")]))
            seg = seg[:at] + draw(st.sampled_from([b":", b"^", b"~", b"|", b""])) + seg[at + 1 :]
        parts[i] = seg
    else:
        trailers = [j for j, p in enumerate(parts) if p.strip().startswith((b"SE*", b"GE*", b"IEA*"))]
        j = draw(st.sampled_from(trailers))
        head, _, rest = parts[j].partition(b"*")
        count, _, tail = rest.partition(b"*")
        parts[j] = head + b"*" + str(int(count or 0) + draw(st.sampled_from([-1, 1, 10]))).encode() + b"*" + tail
    return terminator.join(parts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_a_mutated_file_is_refused_whole_or_parsed_as_oxedi_reads_it(
    data: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("mut") / "mutated.835"
    path.write_bytes(data)
    published: list[bytes] = []
    result = ingest_file(path, lambda key, value: published.append(value))
    if result.error is not None:
        assert published == [] and result.published == 0
        assert result.error.startswith(("segment ", "the file ends", "the file is empty"))
        return
    assert result.published == len(published)
    try:
        reference = reference_view(path)
    except oxedi.ParseError:
        reference = None
    assert _mine(path) == reference
