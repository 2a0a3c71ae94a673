"""The quota store on a real SQLite file: limits checked, failures not counted, and exact counts
when several OS processes reserve at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from rt_jupyter.hub.store import Limits, QuotaExceeded, QuotaStore

NOW = 1_800_000_000.0  # a fixed clock: 2027-01-15 08:00 UTC


def test_limits_are_checked_with_clear_errors() -> None:
    assert Limits.parse({"mints_per_minute": 3}, "x") == Limits(3, None)
    with pytest.raises(ValueError, match=r"x: unknown field\(s\) \['per_day'\]"):
        Limits.parse({"per_day": 3}, "x")
    with pytest.raises(ValueError, match="'session_minutes_per_day' must be a number"):
        Limits.parse({"session_minutes_per_day": "lots"}, "x")
    with pytest.raises(ValueError, match="whole number"):
        Limits.parse({"mints_per_minute": 1.5}, "x")
    assert Limits(2, 60).most_generous(Limits(5, None)) == Limits(5, None)


def test_minute_and_day_quotas_and_failed_mints(tmp_path: Path) -> None:
    store = QuotaStore(f"sqlite:///{tmp_path / 'q.sqlite'}", minutes_per_mint=30)
    limits = Limits(mints_per_minute=2, session_minutes_per_day=90)
    kw = {"limits": limits, "group_totals": {}, "model": "m", "via": "t"}
    a = store.reserve("ann", [], now=NOW, **kw)
    store.settle(a, "minted", 200)
    b = store.reserve("ann", [], now=NOW + 1, **kw)
    store.settle(b, "upstream_error", 502)  # a failed upstream mint stops counting
    store.reserve("ann", [], now=NOW + 2, **kw)
    with pytest.raises(QuotaExceeded) as minute:
        store.reserve("ann", [], now=NOW + 3, **kw)
    assert minute.value.code == "rate_limited" and 1 <= minute.value.retry_after <= 60
    assert "2 session keys in the last minute" in minute.value.message
    store.reserve("ann", [], now=NOW + 120, **kw)  # a new minute: 90 of 90 minutes now
    with pytest.raises(QuotaExceeded) as day:
        store.reserve("ann", [], now=NOW + 300, **kw)
    assert day.value.code == "quota_exceeded" and "90 of 90 session minutes" in day.value.message
    store.reserve("ann", [], now=NOW + 86_400, **kw)  # the next UTC day
    ann = {u.user: u for u in store.usage(now=NOW + 301)}["ann"]
    assert (ann.minted_today, ann.minutes_today, ann.refused_today) == (3, 90, 3)
    outcomes = [r["outcome"] for r in store.audit()]
    assert outcomes.count("rate_limited") == 1 and outcomes.count("quota_exceeded") == 1


def test_group_totals_are_shared_and_wildcards_stay_literal(tmp_path: Path) -> None:
    store = QuotaStore(f"sqlite:///{tmp_path / 'q.sqlite'}", minutes_per_mint=10)
    totals = {"lab_1": Limits(session_minutes_per_day=20)}
    kw = {"limits": Limits(), "group_totals": totals, "model": "m", "via": "t", "now": NOW}
    store.reserve("ann", ["lab_1"], **kw)
    store.reserve("bob", ["lab_1", "x"], **kw)
    with pytest.raises(QuotaExceeded, match="The group 'lab_1' used 20 of 20"):
        store.reserve("cid", ["lab_1"], **kw)
    # 'labx1' is another group: '_' is not a LIKE wildcard here
    store.reserve("dan", ["labx1"], **{**kw, "group_totals": {"labx1": Limits(None, 10)}})


def _hammer(url: str, user: str, n: int, start: multiprocessing.synchronize.Event) -> None:
    store = QuotaStore(url, minutes_per_mint=30)
    start.wait()
    limits = Limits(session_minutes_per_day=30 * 7)
    for _ in range(n):
        try:
            store.reserve(user, ["g"], limits=limits, group_totals={}, model="m", via="p")
        except QuotaExceeded:
            pass
    store.close()


def test_processes_sharing_the_database_never_exceed_the_quota(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    QuotaStore(url).close()  # tables made once
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_hammer, args=(url, "eve", 12, start)) for _ in range(3)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(240)
        assert p.exitcode == 0
    store = QuotaStore(url)
    eve = {u.user: u for u in store.usage()}["eve"]
    assert (eve.minted_today, eve.refused_today) == (7, 36 - 7)
