"""The weekly report (`denialflow report weekly`) rendered as Markdown, CSV or JSON."""

import csv
import io
import json
from typing import Any


def _rows(report: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """Every figure as (section, key, count, value): one flat shape for CSV and Markdown."""
    rows: list[tuple[str, str, Any, Any]] = []
    for name, items in report["new"].items():
        rows += [(f"new {name.removeprefix('by_')}", i["key"], i["count"], i["dollars"]) for i in items]
    rows += [("trend", t["week"], t["count"], t["dollars"]) for t in report["trend"]]
    for when, items in report["top_reasons"].items():
        rows += [(f"top reasons {when.replace('_', ' ')}", r["reason"], r["count"], "") for r in items]
    rows += [("aging", b["bucket"], b["count"], b["dollars"]) for b in report["aging"]]
    rows += [("write-offs", w["reason"], "", w["dollars"]) for w in report["write_offs_by_reason"]]
    for name in ("days_to_first_touch", "days_to_close", "touches_per_resolution", "appeal_overturn_rate",
                 "share_preventable", "never_touched"):  # fmt: skip
        rows.append(("measure", name.replace("_", " "), "", "-" if report[name] is None else report[name]))
    return rows


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["section", "key", "count", "value"])
        writer.writerows(_rows(report))
        return out.getvalue()
    lines = [f"# Denials: week of {report['week']}", ""]
    section = None
    for name, key, count, value in _rows(report):
        if name != section:
            lines += ["", f"## {name}", "", "| | count | value |", "|---|---|---|"]
            section = name
        lines.append(f"| {key} | {count} | {value} |")
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"
