"""Reading usage back: `GET /admin/usage` (app/admin/routes.py) as JSON or CSV.

The records are the store's namespace `usage`, one per (UTC day, caller, model, account),
written once at the end of each request by the model surfaces (USAGE.md). This module only
reads them: it filters them by day range, caller, model and account, sums them by the
fields asked for (`group`), totals them, names client keys (app/keys), and writes CSV that a
spreadsheet can open without running anything in it.

Records live USAGE_RETENTION_DAYS; their keys begin with the day, so a report reads only its
range of days from the store (store.list with bounds): O(callers × models × accounts × days
asked), paid only when an operator asks.
"""
from __future__ import annotations

import csv
import datetime
import io
import re
from dataclasses import dataclass

from ..store import Store
from . import COUNTS, NAMESPACE

FIELDS = ("day", "key", "model", "account")  # what a record is about; its store key, "|"-joined
CSV_COLUMNS = ("day", "key", "key_name", "model", "account") + COUNTS
PARAMETERS = ("from", "to", "key", "model", "account", "group", "format")
DEFAULT_DAYS = 30
NOTE = "token counts are estimates: the upstream reports none"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A cell a spreadsheet would read as a formula (=, +, -, @; tab and CR start one too in some):
# written with a leading apostrophe, so a key named "=HYPERLINK(...)" stays text. A lone "-" is
# the records' "none" (no model, no account) and computes nothing: it stays as it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class BadParameter(ValueError):
    def __init__(self, param: str, message: str, code: str = "invalid_value"):
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass(frozen=True)
class Query:
    start: str                  # first day, YYYY-MM-DD (UTC), included
    end: str                    # last day, included
    key: str = ""               # "" = every caller; else a caller or a client key's name
    model: str = ""
    account: str = ""
    group: tuple[str, ...] = FIELDS  # summed by these fields; FIELDS = one row per record
    csv: bool = False


def parse(args, today: datetime.date, wants_csv: bool = False) -> Query:
    """The query string (a MultiDict) → a Query; BadParameter names the parameter at fault.
    Empty values mean "not given". `wants_csv`: the request's Accept prefers text/csv, which
    `format` overrides."""
    unknown = sorted(set(args) - set(PARAMETERS))
    if unknown:
        raise BadParameter(unknown[0][:100], f"Unknown parameter '{unknown[0][:100]}'; "
                                             f"/admin/usage takes {', '.join(PARAMETERS)}.", "unknown_parameter")
    values = {}
    for name in PARAMETERS:
        given = args.getlist(name)
        if len(given) > 1:
            raise BadParameter(name, f"'{name}' is given {len(given)} times; give it once.")
        values[name] = given[0].strip() if given else ""
    end = _day(values["to"], "to") if values["to"] else None
    start = _day(values["from"], "from") if values["from"] else None
    if end is None:
        end = today if start is None or start <= today else start
    if start is None:
        start = end - datetime.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadParameter("from", f"'from' ({start}) is after 'to' ({end}).")
    group = FIELDS
    if values["group"]:
        group = tuple(dict.fromkeys(part.strip() for part in values["group"].split(",")))
        wrong = [part for part in group if part not in FIELDS]
        if wrong:
            raise BadParameter("group", f"'group' must be one or more of {', '.join(FIELDS)} (comma-separated); "
                                        f"'{wrong[0][:100]}' is none of them.")
        group = tuple(field for field in FIELDS if field in group)  # columns always in the same order
    if values["format"] not in ("", "json", "csv"):
        raise BadParameter("format", "'format' must be json or csv.")
    return Query(start=start.isoformat(), end=end.isoformat(), key=values["key"], model=values["model"],
                 account=values["account"], group=group,
                 csv=values["format"] == "csv" or (values["format"] == "" and wants_csv))


def _day(text: str, name: str) -> datetime.date:
    try:
        if _DAY.fullmatch(text):
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise BadParameter(name, f"'{name}' must be a day as YYYY-MM-DD (UTC), e.g. 2026-12-05; "
                             f"got '{text[:100]}'.")


def _count(value) -> int:
    # Records come from the store: a count that is not a whole number (a record written by a
    # newer or broken writer) adds nothing rather than breaking the whole report.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _fields(store_key: str, record: dict) -> tuple[str, ...]:
    parts = store_key.split("|", 3) + ["-"] * 3
    return tuple(record[f] if isinstance(record.get(f), str) else parts[i] for i, f in enumerate(FIELDS))


class UsageReport:
    def __init__(self, store: Store, keys):
        self.store = store
        self.keys = keys  # app/keys ClientKeys: the names of client keys

    def report(self, query: Query) -> dict:
        names = {k["id"]: k["name"] for k in self.keys.list()}
        sums: dict[tuple, dict] = {}
        # A day's keys are "{day}|…": all of them sort below "{day}}" ("}" follows "|").
        for store_key, record in self.store.list(NAMESPACE, query.start, query.end + "}").items():
            if not isinstance(record, dict):
                continue
            fields = dict(zip(FIELDS, _fields(store_key, record)))
            if not query.start <= fields["day"] <= query.end or not _wanted(query, fields, names):
                continue
            group = tuple(fields[f] for f in query.group)
            row = sums.get(group)
            if row is None:
                row = sums[group] = _row(dict(zip(query.group, group)), names)
            for count in COUNTS:
                row[count] += _count(record.get(count))
        data = [sums[group] for group in sorted(sums)]
        totals = {count: sum(row[count] for row in data) for count in COUNTS}
        return {"object": "usage", "from": query.start, "to": query.end, "estimated": True, "note": NOTE,
                "group": list(query.group), "data": data, "totals": totals}


def _row(fields: dict, names: dict) -> dict:
    """A new row: its fields (a client key's name after the key: "" for other callers), counts at 0."""
    row = {}
    for field, value in fields.items():
        row[field] = value
        if field == "key":
            row["key_name"] = names.get(value, "")
    return {**row, **dict.fromkeys(COUNTS, 0)}


def _wanted(query: Query, fields: dict, names: dict) -> bool:
    if query.key and query.key != fields["key"] and query.key != names.get(fields["key"]):
        return False
    return (not query.model or query.model == fields["model"]) and (not query.account or query.account == fields["account"])


def to_csv(report: dict) -> str:
    """The report's rows under CSV_COLUMNS (a column the grouping summed over is empty)."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: commas, quotes and line breaks in a cell are quoted
    writer.writerow(CSV_COLUMNS)
    for row in report["data"]:
        writer.writerow(_cell(row.get(column, "")) for column in CSV_COLUMNS)
    return out.getvalue()


def _cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START) and value != "-":
        return "'" + value
    return value
