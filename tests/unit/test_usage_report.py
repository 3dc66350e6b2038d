"""Reading usage back (app/usage/report.py, GET /admin/usage): filters, sums per day, caller,
model and account, totals, client keys' names, parameters refused in the admin envelope, and
CSV that parses back and never hands a spreadsheet a formula."""
import csv
import datetime
import io
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import create_app
from app.config import Config
from app.usage.report import COUNTS, CSV_COLUMNS, FIELDS, NOTE, Query, UsageReport, parse, to_csv
from werkzeug.datastructures import MultiDict

TODAY = datetime.date(2026, 12, 5)


class FakeStore:
    """The one store call the report makes: list a namespace's range of keys."""

    def __init__(self, records: dict[str, dict]):
        self.records = records

    def list(self, namespace, start=None, end=None):
        assert namespace == "usage"
        self.asked = (start, end)
        return {k: v for k, v in sorted(self.records.items()) if (start is None or k >= start) and (end is None or k < end)}


class FakeKeys:
    def __init__(self, names: dict[str, str]):
        self.names = names

    def list(self):
        return [{"id": key_id, "name": name} for key_id, name in self.names.items()]


def record(day, key, model, account, **counts):
    return f"{day}|{key}|{model}|{account}", {"day": day, "key": key, "model": model, "account": account,
                                              **{c: counts.get(c, 0) for c in COUNTS}}


RECORDS = dict([
    record("2026-12-04", "0123456789abcdef", "gemini-2.5-flash", "a@x", requests=3, errors=1, input_tokens=100,
           output_tokens=400),
    record("2026-12-05", "0123456789abcdef", "gemini-2.5-flash", "a@x", requests=2, input_tokens=50, output_tokens=60),
    record("2026-12-05", "0123456789abcdef", "gemini-2.5-pro", "b@x", requests=1, output_tokens=7, images=2),
    record("2026-12-05", "api_keys:abcdefabcdef", "gemini-2.5-flash", "b@x", requests=4, errors=4),
    record("2026-12-05", "open", "-", "-", requests=1, errors=1),
    record("2026-10-01", "open", "gemini-2.5-flash", "a@x", requests=9, videos=1),  # outside the last 30 days
])
NAMES = {"0123456789abcdef": "team, \"red\""}


def report(**query) -> dict:
    return UsageReport(FakeStore(RECORDS), FakeKeys(NAMES)).report(
        Query(**{"start": "2026-11-06", "end": "2026-12-05", **query}))


def test_one_row_per_record_in_the_range_with_key_names_and_totals():
    answer = report()
    assert answer["object"] == "usage" and answer["estimated"] is True and answer["note"] == NOTE
    assert (answer["from"], answer["to"]) == ("2026-11-06", "2026-12-05")
    assert [(r["day"], r["key"], r["model"], r["account"]) for r in answer["data"]] == [
        ("2026-12-04", "0123456789abcdef", "gemini-2.5-flash", "a@x"),
        ("2026-12-05", "0123456789abcdef", "gemini-2.5-flash", "a@x"),
        ("2026-12-05", "0123456789abcdef", "gemini-2.5-pro", "b@x"),
        ("2026-12-05", "api_keys:abcdefabcdef", "gemini-2.5-flash", "b@x"),
        ("2026-12-05", "open", "-", "-")]
    assert [r["key_name"] for r in answer["data"]] == ['team, "red"'] * 3 + ["", ""]
    assert answer["totals"] == {"requests": 11, "errors": 6, "input_tokens": 150, "output_tokens": 467,
                                "images": 2, "videos": 0}


@pytest.mark.parametrize("group, rows", [
    (("day",), [{"day": "2026-12-04", "requests": 3, "output_tokens": 400},
                {"day": "2026-12-05", "requests": 8, "output_tokens": 67}]),
    (("key",), [{"key": "0123456789abcdef", "key_name": 'team, "red"', "requests": 6, "output_tokens": 467},
                {"key": "api_keys:abcdefabcdef", "key_name": "", "requests": 4, "output_tokens": 0},
                {"key": "open", "key_name": "", "requests": 1, "output_tokens": 0}]),
    (("model",), [{"model": "-", "requests": 1, "output_tokens": 0},
                  {"model": "gemini-2.5-flash", "requests": 9, "output_tokens": 460},
                  {"model": "gemini-2.5-pro", "requests": 1, "output_tokens": 7}]),
    (("account",), [{"account": "-", "requests": 1, "output_tokens": 0},
                    {"account": "a@x", "requests": 5, "output_tokens": 460},
                    {"account": "b@x", "requests": 5, "output_tokens": 7}]),
    (("day", "model"), [{"day": "2026-12-04", "model": "gemini-2.5-flash", "requests": 3, "output_tokens": 400},
                        {"day": "2026-12-05", "model": "-", "requests": 1, "output_tokens": 0},
                        {"day": "2026-12-05", "model": "gemini-2.5-flash", "requests": 6, "output_tokens": 60},
                        {"day": "2026-12-05", "model": "gemini-2.5-pro", "requests": 1, "output_tokens": 7}]),
])
def test_grouping_sums_over_the_fields_not_grouped_by(group, rows):
    data = report(group=group)["data"]
    assert [{k: v for k, v in row.items() if k not in COUNTS or k in ("requests", "output_tokens")}
            for row in data] == rows
    assert all(set(row) == set(group) | set(COUNTS) | ({"key_name"} if "key" in group else set()) for row in data)


def test_filters_by_day_range_caller_key_name_model_and_account():
    def days(**query):
        return [(r["day"], r["key"], r["model"]) for r in report(**query)["data"]]
    assert days(start="2026-12-04", end="2026-12-04") == [("2026-12-04", "0123456789abcdef", "gemini-2.5-flash")]
    assert days(start="2026-10-01", end="2026-10-01") == [("2026-10-01", "open", "gemini-2.5-flash")]
    by_id, by_name = days(key="0123456789abcdef"), days(key='team, "red"')
    assert by_id == by_name and len(by_id) == 3
    assert days(key="open", model="-") == [("2026-12-05", "open", "-")]
    assert days(account="b@x", model="gemini-2.5-flash") == [("2026-12-05", "api_keys:abcdefabcdef", "gemini-2.5-flash")]
    assert days(key="nobody") == [] and report(key="nobody")["totals"] == dict.fromkeys(COUNTS, 0)


def test_only_the_days_asked_are_read_from_the_store():
    """Records are kept 400 days: a 30-day report must not decode the other 370 (store.list's range)."""
    store = FakeStore(RECORDS)
    UsageReport(store, FakeKeys({})).report(Query(start="2026-12-04", end="2026-12-05"))
    assert store.asked == ("2026-12-04", "2026-12-05}")  # every "2026-12-05|…" sorts below "2026-12-05}"


def test_records_a_writer_got_wrong_count_nothing_instead_of_breaking_the_report():
    store = FakeStore({"2026-12-05|k|m|a": {"day": "2026-12-05", "key": "k", "model": "m", "account": "a",
                                            "requests": "3", "errors": True, "input_tokens": -5, "output_tokens": 2.5,
                                            "images": None},
                       "2026-12-05|k2|m|a": {"requests": 1}})  # fields missing: the store key says them
    answer = UsageReport(store, FakeKeys({})).report(Query(start="2026-12-05", end="2026-12-05"))
    assert [(r["key"], r["requests"]) for r in answer["data"]] == [("k", 0), ("k2", 1)]
    assert answer["totals"] == {**dict.fromkeys(COUNTS, 0), "requests": 1}


# Any records, any range, any grouping: each row is the sum of exactly the records it stands for.
_DAYS = [f"2026-12-0{d}" for d in range(1, 6)]
_records = st.dictionaries(
    st.tuples(st.sampled_from(_DAYS), st.sampled_from(["k1", "k2", "open"]), st.sampled_from(["m1", "m2", "-"]),
              st.sampled_from(["a1", "a2", "-"])),
    st.fixed_dictionaries({c: st.integers(0, 10**9) for c in COUNTS}), max_size=40)


@settings(max_examples=60, deadline=None)
@given(records=_records, start=st.sampled_from(_DAYS), length=st.integers(0, 5),
       group=st.sets(st.sampled_from(FIELDS), min_size=1))
def test_every_row_is_the_sum_of_its_records(records, start, length, group):
    end = min(_DAYS[-1], (datetime.date.fromisoformat(start) + datetime.timedelta(days=length)).isoformat())
    stored = dict(record(*fields, **counts) for fields, counts in records.items())
    group = tuple(f for f in FIELDS if f in group)
    answer = UsageReport(FakeStore(stored), FakeKeys({"k1": "one"})).report(Query(start=start, end=end, group=group))
    inside = {fields: counts for fields, counts in records.items() if start <= fields[0] <= end}
    expected: dict[tuple, dict] = {}
    for fields, counts in inside.items():
        sums = expected.setdefault(tuple(dict(zip(FIELDS, fields))[f] for f in group), dict.fromkeys(COUNTS, 0))
        for c in COUNTS:
            sums[c] += counts[c]
    assert [tuple(row[f] for f in group) for row in answer["data"]] == sorted(expected)
    for row in answer["data"]:
        assert {c: row[c] for c in COUNTS} == expected[tuple(row[f] for f in group)]
        if "key" in group:
            assert row["key_name"] == ("one" if row["key"] == "k1" else "")
    assert answer["totals"] == {c: sum(counts[c] for counts in inside.values()) for c in COUNTS}


# --- parameters ---------------------------------------------------------------------------
def query(text: str, wants_csv=False) -> Query:
    pairs = [tuple(part.split("=", 1)) for part in text.split("&") if part]
    return parse(MultiDict(pairs), TODAY, wants_csv)


def test_the_default_range_is_the_last_30_days_and_one_row_per_record():
    q = query("")
    assert (q.start, q.end, q.group, q.csv) == ("2026-11-06", "2026-12-05", FIELDS, False)
    assert (query("to=2026-06-30").start, query("from=2026-01-01").end) == ("2026-06-01", "2026-12-05")
    assert query("from=2027-01-01").end == "2027-01-01"  # a start after today: that day alone
    assert query("key=&model=&account=&group=&format=&from=&to=") == q  # empty: not given
    assert query("group=model,day").group == ("day", "model")  # columns in their usual order
    assert query("format=csv").csv and query("", wants_csv=True).csv and not query("format=json", wants_csv=True).csv


@pytest.mark.parametrize("text, param", [
    ("from=2026-13-01", "from"), ("to=2026-02-30", "to"), ("from=yesterday", "from"), ("from=20261205", "from"),
    ("from=2026-1-05", "from"), ("to=\u0662\u0660\u0662\u0666-12-05", "to"), ("from=2026-12-05&to=2026-12-04", "from"),
    ("group=day,week", "group"), ("group=,", "group"), ("format=xlsx", "format"), ("from=2026-12-01&from=2026-12-02", "from"),
    ("mdoel=gemini", "mdoel"),
])
def test_bad_parameters_are_400s_naming_the_parameter(admin_client, text, param):
    answer = admin_client.get(f"/admin/usage?{text}")
    assert answer.status_code == 400, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert error["code"] == ("unknown_parameter" if param == "mdoel" else "invalid_value")


# --- through the app: the route, JSON and CSV ------------------------------------------------------
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(Config.from_env({"DATA_DIR": str(tmp_path_factory.mktemp("usage")), "LOG_LEVEL": "error",
                                       "ADMIN_KEY": "adm"}))


@pytest.fixture(scope="module")
def admin_client(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer adm"
    return client


HOSTILE_NAMES = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "lead\t=1", "a, b \"quoted\"\nnext line",
                 "plain"]


@pytest.fixture(scope="module")
def seeded(app):
    store, keys = app.extensions["gbp"].store, app.extensions["gbp.keys"]
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    made = [keys.create({"name": name}) for name in HOSTILE_NAMES]
    for n, key in enumerate(made):
        store.put("usage", *record(today, key["id"], "gemini-2.5-flash", "-", requests=n + 1))
    store.put("usage", *record(today, "open", "-", "=cmd|' /C calc'!A0", requests=1))
    return made


def test_csv_parses_back_with_every_name_intact_and_no_formula(admin_client, seeded):
    answer = admin_client.get("/admin/usage?format=csv")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="usage-')
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)
    names = {row["key"]: row["key_name"] for row in body}
    for key in seeded:
        name = key["name"]
        assert names[key["id"]] == ("'" + name if name[0] in "=+-@\t" else name), name
    assert next(row for row in body if row["key"] == "open")["account"] == "'=cmd|' /C calc'!A0"
    assert next(row for row in body if row["key"] == "open")["model"] == "-"  # "none" stays itself
    for cell in itertools.chain.from_iterable(rows):
        assert not cell or cell[0] not in "=+@\t" and (cell[0] != "-" or cell == "-"), cell
    json_rows = admin_client.get("/admin/usage").get_json()["data"]
    assert [int(row["requests"]) for row in body] == [row["requests"] for row in json_rows]
    assert {row["key_name"] for row in json_rows} >= {key["name"] for key in seeded}  # JSON: names as they are


def test_accept_text_csv_asks_for_csv_and_format_json_overrides_it(admin_client, seeded):
    assert admin_client.get("/admin/usage", headers={"Accept": "text/csv"}).mimetype == "text/csv"
    assert admin_client.get("/admin/usage?format=json", headers={"Accept": "text/csv"}).mimetype == "application/json"
    assert admin_client.get("/admin/usage", headers={"Accept": "*/*"}).mimetype == "application/json"
    grouped = admin_client.get("/admin/usage?group=day&format=csv").get_data(as_text=True).splitlines()
    assert len(grouped) == 2 and grouped[1].split(",")[1:5] == ["", "", "", ""]  # summed over: empty cells


def test_the_first_and_last_days_a_date_can_have_are_a_range_like_any_other(admin_client, seeded):
    answer = admin_client.get("/admin/usage?from=0001-01-01&to=9999-12-31&group=day")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["totals"]["requests"] == sum(range(1, len(seeded) + 1)) + 1
    assert admin_client.get("/admin/usage?from=9999-12-31").get_json()["data"] == []


def test_usage_needs_the_admin_key(app):
    answer = app.test_client().get("/admin/usage", headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "invalid_admin_key"
