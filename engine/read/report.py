"""The weekly report (`denialflow report weekly`) rendered as Markdown, CSV or JSON.

Every section is always there, in the same order: an empty one says "none" (in CSV, a row
with key "none"), so a reader can tell "nothing happened" from "the section is missing".
Money is shown as dollars with separators in Markdown and as plain decimals in CSV.
"""

import csv
import io
import json
from typing import Any

NONE = "none"
#: The measures' labels, and whether each is a rate to show as a percentage.
MEASURES = {"days_to_first_touch": False, "days_to_close": False, "touches_per_resolution": False,
            "appeal_overturn_rate": True, "share_preventable": True, "never_touched": False}  # fmt: skip


def _sections(report: dict[str, Any]) -> list[tuple[str, list[tuple[Any, Any, Any]]]]:
    """Every section as (title, [(key, count, dollars)]); a measure's value sits in ``count``."""
    out = [(f"new {name.removeprefix('by_')}", [(i["key"], i["count"], i["dollars"]) for i in items])
           for name, items in report["new"].items()]  # fmt: skip
    out.append(("trend", [(t["week"], t["count"], t["dollars"]) for t in report["trend"]]))
    for when, items in report["top_reasons"].items():
        out.append((f"top reasons {when.replace('_', ' ')}", [(r["reason"], r["count"], None) for r in items]))
    out.append(("aging at the week's end", [(b["bucket"], b["count"], b["dollars"]) for b in report["aging"]]))
    out.append(("write-offs", [(w["reason"], w["count"], w["dollars"]) for w in report["write_offs_by_reason"]]))
    out.append(("measures", [(name.replace("_", " "), report[name], None) for name in MEASURES]))
    p = report["prevention"]
    checked = [("claims checked", p["claims_checked"], None), ("held", p["held"], None),
               *((f"holds {k.replace('_', ' ')}", n, None) for k, n in p["holds"].items()),
               *((f"denied for authorization later, {k.replace('_', ' ')}", n, None)
                 for k, n in p["denied_for_authorization_later"].items())]  # fmt: skip
    out.append(("prevention", checked if p["claims_checked"] or any(n for _, n, _ in checked) else []))
    out.append(("holds by sub-cause", [(i["key"], i["count"], None) for i in p["holds_by_sub_cause"]]))
    out.append(("prevention actions", [(f"{a['action']} ({a['root_cause']}; {a['owner']}; {a['status']})",
                                        a["denials"], None) for a in report["prevention_actions"]]))  # fmt: skip
    return out


def _money(dollars: Any) -> str:
    return "" if dollars is None else f"${dollars:,.2f}"


def _measure(name: str, value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if MEASURES[name.replace(" ", "_")] else str(value)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["section", "key", "count", "dollars"])
        for title, rows in _sections(report):
            writer.writerows([(title, k, "" if c is None else c, "" if v is None else f"{v:.2f}") for k, c, v in rows]
                             or [(title, NONE, "", "")])  # fmt: skip
        return out.getvalue()
    lines = [f"# Denials: week of {report['week']} (Monday)"]
    for title, rows in _sections(report):
        lines += ["", f"## {title}", ""]
        if not rows:
            lines.append(NONE)
        elif title == "measures":
            lines += ["| measure | value |", "|---|---|", *(f"| {k} | {_measure(k, c)} |" for k, c, _ in rows)]
        else:
            lines += ["| | count | dollars |", "|---|---:|---:|", *(f"| {k} | {c} | {_money(v)} |" for k, c, v in rows)]
    return "\n".join(lines) + "\n"
