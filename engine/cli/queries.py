"""Commands that answer supervisors' questions from the store: triage, the escalation queue, reviews."""

import json
from collections.abc import Collection
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Connection, select

from engine.cli.common import DbOpt, NowOpt, console, parse_day, settings
from engine.clock import clock_from
from engine.read import queries
from engine.read.kpis import Filters
from engine.read.render import LIMITS_UNKNOWN
from engine.read.report import render
from engine.storage import store
from engine.storage.db import make_engine
from workflows.escalation import EscalationRules
from workflows.payers import KINDS, PayerPolicies, PayerProfile


class Format(StrEnum):
    md = "md"
    csv = "csv"
    json = "json"


def _match(conn: Connection, name: str, typed: str | None, also: Collection[str] = ()) -> tuple[str, ...] | None:
    """The stored values a typed filter names (`queries.match_filters`: any case, or part of one),
    said on stderr when they differ from what was typed; exit 1 saying it is unknown when it names
    nothing, rather than print an empty table that reads like "nothing to do"."""
    if not typed:
        return None
    matched = queries.match_filters(conn, Filters(**{name: typed}), {name: also})
    if name in matched.unmatched:
        typer.echo(matched.unmatched[name], err=True)
        raise typer.Exit(1)
    if name in matched.named:
        typer.echo(f"{name} {typed!r} matches {', '.join(matched.named[name])}", err=True)
    return matched.values(name)


def triage(
    payer: Annotated[str | None, typer.Option(help="one payer only")] = None,
    limit: Annotated[int, typer.Option(help="rows per payer")] = 25,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    database_url: DbOpt = None,
) -> None:
    """Open denials ranked within each payer: near deadlines first, then dollar value (top 20, next 50, batches)."""
    s = settings(database_url)
    near = PayerPolicies.load(s.payers_file).urgent_within_days
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        payers = _match(conn, "payer", payer, queries.configured(s)["payer"])
        items = queries.triage(conn, date.today(), near, payers, limit)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps([i.as_dict() for i in items]))
        return
    table = Table(title=f"triage: deadline within {near} days first, then value, per payer")
    for name in ("payer", "#", "tier", "denied $", "priority", "deadline", "state", "owner", "category", "denial"):
        table.add_column(name)
    for i in items:
        deadline = f"{i.deadline}{' !' if i.deadline_near else ''}" if i.deadline else ""
        table.add_row(i.payer_id, str(i.rank), i.tier, f"{i.denied_cents / 100:,.2f}", i.priority, deadline, i.state,
                      i.owner or "-", i.category or "-", i.id)  # fmt: skip
    console().print(table)


def payers(
    unknown: Annotated[
        bool, typer.Option("--unknown", help="payer ids on denials that have no profile, with counts and dollars")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    database_url: DbOpt = None,
) -> None:
    """The payer profiles in force (per kind: days and basis); --unknown: payers dated by the defaults."""
    s = settings(database_url)
    policies = PayerPolicies.load(s.payers_file)
    if unknown:
        _unknown_payers(s.database_url, policies, as_json)
        return
    profiles = {"(default)": policies.default, **policies.payers}
    if as_json:
        doc = {"urgent_within_days": policies.urgent_within_days, "default": policies.default.as_dict(),
               "payers": {p: v.as_dict() for p, v in policies.payers.items()}}  # fmt: skip
        typer.echo(json.dumps(doc))
        return
    table = Table(title=f"{len(policies.payers)} payer profile(s); others get the default, shown as '{LIMITS_UNKNOWN}'")
    for name in ("payer", "timely filing", "corrected claim", "appeal levels", "retro-auth"):
        table.add_column(name)
    for payer, profile in profiles.items():
        table.add_row(payer, *(_limits(profile, kind) for kind in KINDS))
    console().print(table)


def _limits(profile: PayerProfile, kind: str) -> str:
    """One kind's limit as shown; "(default)" when the payer's table left it to the default."""
    if kind == "appeal":
        text = "; ".join(f"L{n} {level}" for n, level in enumerate(profile.appeal, 1))
    else:
        text = str(getattr(profile, kind))
    return f"{text} (default)" if kind in profile.inherited else text


def _unknown_payers(database_url: str, policies: PayerPolicies, as_json: bool) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        items = queries.unknown_payers(conn, policies.payers)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps([i.as_dict() for i in items]))
        return
    table = Table(title=f"{len(items)} payer(s) on denials without a profile: {LIMITS_UNKNOWN}")
    for name in ("payer", "name", "denials", "denied $", "open", "open $"):
        table.add_column(name)
    for i in items:
        table.add_row(i.payer_id, i.payer_name, str(i.denials), f"{i.denied_cents / 100:,.2f}", str(i.open),
                      f"{i.open_cents / 100:,.2f}")  # fmt: skip
    console().print(table)


def reviews(
    database_url: DbOpt = None,
) -> None:
    """Items from the feed a person must look at (e.g. reversals that match no denial)."""
    engine = make_engine(settings(database_url).database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(store.REVIEWS).order_by(store.REVIEWS.c.id)).all()
    table = Table(title=f"{len(rows)} review item(s)")
    for name in ("kind", "payer", "claim", "amount", "since"):
        table.add_column(name)
    for r in rows:
        amount = str(r.detail.get("reversed_amount", ""))
        table.add_row(r.kind, r.payer_id, r.claim_control_number, amount, f"{r.created_at:%Y-%m-%d}")
    console().print(table)


def escalations(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    database_url: DbOpt = None,
    now: NowOpt = None,
) -> None:
    """The escalation queue by dollar value: why each item is there, how long it has waited (! = over a cycle)."""
    s = settings(database_url, now=now)
    rules = EscalationRules.load(s.escalation_file)
    cycle = rules.cycle_days
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        items = queries.escalations(conn, clock_from(s.now)(), cycle, rules.deadline_lead_days)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps([i.as_dict() for i in items]))
        return
    table = Table(title=f"escalation queue: {len(items)} item(s); ! = waiting longer than one {cycle}-day cycle")
    for name in ("denied $", "deadline", "payer", "why", "figures", "waiting", "flags", "team / owner", "denial"):
        table.add_column(name, style="bold red" if name == "deadline" else None)
    for i in items:
        figures = ", ".join(f"{k} {v}" for k, v in i.detail.items() if k != "lead_days")
        table.add_row(f"{i.denied_cents / 100:,.2f}", "; ".join(i.deadlines) or "-", i.payer_id, i.rule, figures,
                      f"{i.waited_days} d{' !' if i.overdue else ''}", ", ".join(i.flags),
                      f"{i.team or '-'} / {i.owner or '-'}", i.id)  # fmt: skip
    console().print(table)


def stuck(
    team: Annotated[str | None, typer.Option(help="one team only")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    database_url: DbOpt = None,
    now: NowOpt = None,
) -> None:
    """What will not move without someone acting, and why, by dollar value."""
    s = settings(database_url, now=now)
    rules = EscalationRules.load(s.escalation_file)
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        teams = _match(conn, "team", team, queries.configured(s)["team"])
        items = queries.stuck(conn, clock_from(s.now)().date(), rules, Filters(team=teams))
    engine.dispose()
    if as_json:
        typer.echo(json.dumps([i.as_dict() for i in items]))
        return
    total = sum(i.denied_cents for i in items) / 100
    table = Table(title=f"stuck: {len(items)} denial(s), ${total:,.2f}")
    for name in ("denied $", "team / owner", "state", "why", "denial"):
        table.add_column(name)
    for i in items:
        table.add_row(f"{i.denied_cents / 100:,.2f}", f"{i.team or '-'} / {i.owner or '-'}", i.state,
                      "; ".join(i.reasons), i.id)  # fmt: skip
    console().print(table)


def queue(
    team: Annotated[str, typer.Argument(help="the team, e.g. billing")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    database_url: DbOpt = None,
) -> None:
    """A team's open work, what to do first on top (priority, value, next action)."""
    s = settings(database_url)
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        teams = _match(conn, "team", team, queries.configured(s)["team"]) or (team,)
        items = queries.queue(conn, teams)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps([i.as_dict() for i in items]))
        return
    table = Table(title=f"{', '.join(teams)}: {len(items)} open denial(s)")
    for name in ("priority", "denied $", "owner", "state", "touches", "next action", "payer", "category", "denial"):
        table.add_column(name)
    for i in items:
        table.add_row(i.priority, f"{i.denied_cents / 100:,.2f}", i.owner or "-", i.state, str(i.touches),
                      str(i.next_action_date or "-"), i.payer_id, i.category or "-", i.id)  # fmt: skip
    console().print(table)


report_app = typer.Typer(no_args_is_help=True, help="Reports for leaders.")


@report_app.command("weekly")
def report_weekly(
    week: Annotated[
        date | None, typer.Option(parser=parse_day, help="a day of the week (it starts on Monday); default: this week")
    ] = None,
    weeks: Annotated[int, typer.Option(min=1, max=52, help="weeks of trend before it")] = 4,
    fmt: Annotated[Format, typer.Option("--format", help="md, csv or json")] = Format.md,
    database_url: DbOpt = None,
    now: NowOpt = None,
) -> None:
    """DOMAIN.md's weekly numbers: new denials by payer/category/owner/site, trend, top reasons,
    time to first touch and to close, aging, overturn rate, write-offs, share preventable."""
    s = settings(database_url, now=now)
    today = clock_from(s.now)().date()
    day = week or today
    start = day - timedelta(days=day.weekday())
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        report = queries.weekly_report(conn, start, weeks)
    engine.dispose()
    typer.echo(render(report, fmt.value), nl=False)
