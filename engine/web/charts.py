"""The dashboard's charts as Plotly figures (plotly.js draws them in the browser).

Each function takes the numbers `engine.read.queries.dashboard` returns and gives a figure
as a plain dict, ready for the page to hand to ``Plotly.newPlot``.
"""

from typing import Any

import plotly.graph_objects as go

_LAYOUT: dict[str, Any] = {"margin": {"l": 48, "r": 16, "t": 36, "b": 40}, "height": 300,
                           "font": {"family": "system-ui, sans-serif", "size": 12}, "legend": {"orientation": "h"},
                           "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}  # fmt: skip


def _figure(traces: list[Any], title: str, **layout: Any) -> dict[str, Any]:
    fig = go.Figure(traces, layout={**_LAYOUT, "title": {"text": title}, **layout})
    if not any(len(t.x or ()) for t in traces):
        note = {"text": "nothing in this range", "showarrow": False, "font": {"size": 14}}
        fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, annotations=[note])
    return fig.to_plotly_json()


def aging(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    names = [b["bucket"] for b in buckets]
    return _figure(
        [go.Bar(x=names, y=[b["dollars"] for b in buckets], name="dollars",
                text=[f"{b['count']} open" for b in buckets],
                hovertemplate="%{x} days: $%{y:,.2f} (%{text})<extra></extra>")],
        "Open by age in days ($, count on bars)", yaxis={"tickprefix": "$"},
    )  # fmt: skip


def weekly_trend(rows: list[dict[str, Any]], weeks: list[str], title: str) -> dict[str, Any]:
    """One stacked bar per week of the range, split by the key (category or payer): a week
    without denials keeps its place on the axis, at zero, so a gap reads as a gap."""
    by_key: dict[str, dict[str, int]] = {}
    for r in rows:
        by_key.setdefault(r["key"], {})[r["week"]] = r["count"]
    traces = [go.Bar(x=weeks, y=[counts.get(w, 0) for w in weeks], name=key) for key, counts in sorted(by_key.items())]
    return _figure(traces, title, barmode="stack", xaxis={"type": "category"})


def open_by_team(rows: list[dict[str, Any]]) -> dict[str, Any]:
    teams: dict[str, float] = {}
    for r in rows:
        teams[r["team"]] = teams.get(r["team"], 0) + r["dollars"]
    ranked = sorted(teams.items(), key=lambda kv: kv[1])
    return _figure([go.Bar(y=[t for t, _ in ranked], x=[v for _, v in ranked], orientation="h", name="dollars")],
                   "Open dollars by team", xaxis={"tickprefix": "$"})  # fmt: skip


def write_offs(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _figure([go.Bar(x=[r["reason"] for r in rows], y=[r["dollars"] for r in rows], name="written off")],
                   "Write-offs by adjustment type", yaxis={"tickprefix": "$"})  # fmt: skip
