"""What each synthetic envelope file (tests/data/835/envelope/, see its NOTES.md) must give.

Worked out from the files by hand: the warning codes an accepted file carries, in file
order, or the refusal (segment position and problem) of a file whose claim data is damaged.
"""

import json
from collections.abc import Callable
from pathlib import Path

#: file -> (the refusal, or None if accepted; the warning codes, in order)
ENVELOPE_FILES: dict[str, tuple[str | None, list[str]]] = {
    "intact.835": (None, []),
    "se01-count.835": (None, ["envelope.se01_count"]),
    "se02-control.835": (None, ["envelope.se02_control"]),
    "ge01-count.835": (None, ["envelope.ge01_count"]),
    "ge02-control.835": (None, ["envelope.ge02_control"]),
    "iea01-count.835": (None, ["envelope.iea01_count"]),
    "iea02-control.835": (None, ["envelope.iea02_control"]),
    "isa-unpadded.835": (None, ["envelope.isa_width"] * 5),
    "terminator-at-line-start.835": (None, ["envelope.terminator_at_line_start"]),
    "final-terminator-missing.835": (None, ["envelope.final_terminator_missing"]),
    "ge-iea-missing.835": (None, ["envelope.ge_missing", "envelope.iea_missing"]),
    "iea-missing.835": (None, ["envelope.iea_missing"]),
    "unbalanced.835": (None, ["balance.bpr02"]),
    "bpr02-unreadable.835": (None, ["balance.bpr02"]),
    "truncated-in-transaction.835": ("segment 3: the file ends inside the transaction set this ST opens (no SE)", []),
    "truncated-mid-segment.835": ("segment 31: the file ends inside a 'CAS' segment (no terminator)", []),
    "clp-without-amounts.835": ("segment 26: CLP03 '' is not an amount", []),
    "bad-amount.835": ("segment 31: CAS03 '95.0O' is not an amount", []),
    "bad-date.835": ("segment 29: DTM02 '20261340' is not a date", []),
    "svc-outside-claim.835": ("segment 12: SVC outside a claim (no CLP before it)", []),
    "cas-outside-claim.835": ("segment 13: CAS outside a claim (no CLP before it)", []),
    "plb-bad-amount.835": ("segment 33: PLB04 '2O.00' is not an amount", []),
    "unusable-separators.835": ("segment 1: ISA declares the same character twice among '*' '~' '~'", []),
}
#: The same files as `test_samples.REFUSALS` names them.
ENVELOPE_OUTCOMES = {f"envelope/{name}": refusal for name, (refusal, _) in ENVELOPE_FILES.items()}

#: The hand-labelled cases (tests/data/835/cases/, labelled by someone who did not write the
#: reader): whether each is accepted, with or without warnings, is in its labels.json.
SAMPLES = Path(__file__).parents[1] / "data" / "835"
CASES = SAMPLES / "cases"
LABELS: list[dict] = json.loads((CASES / "labels.json").read_text())["files"]
#: Our wording of the two refusals the labels describe.
CASE_REFUSALS = {
    "28_refused_truncated_in_claim.835": "segment 24: the file ends inside a 'DTM' segment (no terminator)",
    "29_refused_clp_missing_amounts.835": "segment 21: CLP03 '' is not an amount",
}
CASE_OUTCOMES = {f"cases/{f['file']}": None if f["accepted"] else CASE_REFUSALS[f["file"]] for f in LABELS}


def _terminators_at_line_end(raw: bytes) -> bytes:
    return raw.replace(b"\n~", b"~\n")


#: oxedi takes the line break after ISA16 for the terminator; it reads these files' content in
#: the conventional layout (the differential test compares the same segments).
CONVENTIONAL_LAYOUT: dict[str, Callable[[bytes], bytes]] = {
    "envelope/terminator-at-line-start.835": _terminators_at_line_end,
    "cases/24_env_terminator_at_line_start.835": _terminators_at_line_end,
}
