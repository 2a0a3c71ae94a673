"""The quota store on a real SQLite file (and a real PostgreSQL server when one is installed):
limits checked, failures not counted, and exact counts when several OS processes reserve at
once."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import multiprocessing.synchronize
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from rt_jupyter.hub.store import Limits, QuotaExceeded, QuotaStore
from tests.e2e.harness import free_port

NOW = 1_800_000_000.0  # a fixed clock: 2027-01-15 08:00 UTC


def take(
    store: QuotaStore,
    user: str,
    groups: list[str],
    limits: Limits,
    *,
    now: float = NOW,
    totals: Mapping[str, Limits] | None = None,
) -> int:
    return store.reserve(
        user, groups, limits=limits, group_totals=totals or {}, model="m", via="t", now=now
    )


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
    store.settle(take(store, "ann", [], limits), "minted", 200)
    failed = take(store, "ann", [], limits, now=NOW + 1)
    store.settle(failed, "upstream_error", 502)  # a failed upstream mint stops counting
    take(store, "ann", [], limits, now=NOW + 2)
    with pytest.raises(QuotaExceeded) as minute:
        take(store, "ann", [], limits, now=NOW + 3)
    assert minute.value.code == "rate_limited" and 1 <= minute.value.retry_after <= 60
    assert "2 session keys in the last minute" in minute.value.message
    take(store, "ann", [], limits, now=NOW + 120)  # a new minute: 90 of 90 minutes now
    with pytest.raises(QuotaExceeded) as day:
        take(store, "ann", [], limits, now=NOW + 300)
    assert day.value.code == "quota_exceeded" and "90 of 90 session minutes" in day.value.message
    take(store, "ann", [], limits, now=NOW + 86_400)  # the next UTC day
    ann = {u.user: u for u in store.usage(now=NOW + 301)}["ann"]
    assert (ann.minted_today, ann.minutes_today, ann.refused_today) == (3, 90, 3)
    outcomes = [r["outcome"] for r in store.audit()]
    assert outcomes.count("rate_limited") == 1 and outcomes.count("quota_exceeded") == 1


def test_group_totals_are_shared_and_wildcards_stay_literal(tmp_path: Path) -> None:
    store = QuotaStore(f"sqlite:///{tmp_path / 'q.sqlite'}", minutes_per_mint=10)
    totals = {"lab_1": Limits(session_minutes_per_day=20)}
    take(store, "ann", ["lab_1"], Limits(), totals=totals)
    take(store, "bob", ["lab_1", "x"], Limits(), totals=totals)
    with pytest.raises(QuotaExceeded, match="The group 'lab_1' used 20 of 20"):
        take(store, "cid", ["lab_1"], Limits(), totals=totals)
    # 'labx1' is another group: '_' is not a LIKE wildcard here
    take(store, "dan", ["labx1"], Limits(), totals={"labx1": Limits(None, 10)})


def _hammer(url: str, user: str, n: int, start: multiprocessing.synchronize.Event) -> None:
    store = QuotaStore(url, minutes_per_mint=30)
    start.wait()
    limits = Limits(session_minutes_per_day=30 * 7)
    for _ in range(n):
        with contextlib.suppress(QuotaExceeded):
            store.reserve(user, ["g"], limits=limits, group_totals={}, model="m", via="p")
    store.close()


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of its own (initdb in a temporary folder, a free loopback port), run
    as ``nobody`` since PostgreSQL refuses root; skipped without PostgreSQL or psycopg."""
    # on PATH, or where Debian's postgresql package puts them (`make test` installs it)
    bins = [*sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
    search = os.pathsep.join([os.environ.get("PATH", ""), *map(str, bins)])
    initdb, pg_ctl = shutil.which("initdb", path=search), shutil.which("pg_ctl", path=search)
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed: make postgres")
    pytest.importorskip("psycopg")
    base = Path(tempfile.mkdtemp(prefix="rtj-pg-"))
    base.chmod(0o755)
    as_nobody: list[str] = []
    if os.geteuid() == 0:
        os.chown(base, 65534, 65534)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    data, port = base / "data", free_port()
    env = {**os.environ, "LC_ALL": "C"}
    run = functools.partial(subprocess.run, check=True, capture_output=True, env=env, timeout=120)
    run([*as_nobody, initdb, "-D", str(data), "-A", "trust", "-U", "rtj", "-E", "UTF8"])
    pg_options = f"-p {port} -h 127.0.0.1 -k {base}"
    log = str(base / "log")
    run([*as_nobody, pg_ctl, "-D", str(data), "-o", pg_options, "-l", log, "-w", "start"])
    try:
        yield f"postgresql+psycopg://rtj@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_nobody, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_processes_sharing_the_database_never_exceed_the_quota(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    else:
        url = request.getfixturevalue("postgres")
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
