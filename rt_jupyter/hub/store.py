"""Quotas and the audit log of the hub service, in one SQL database through SQLAlchemy.

Every mint attempt is a row of ``rtj_mints`` (user, groups, model, outcome, status, time, the
minutes it is charged): the audit log and the quota counts are the same rows. A mint is
*reserved* inside one transaction that first locks the user's (and the limited groups') row in
``rtj_locks``, then counts, then inserts; so two service processes sharing the database (SQLite
file, or PostgreSQL for several hub replicas) never both take the last slot. SQLite transactions
start with ``BEGIN IMMEDIATE`` (the write lock first); other databases lock the rows with the
``UPDATE``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ..errors import KeyMintError

__all__ = ["COUNTED", "Limits", "QuotaExceeded", "QuotaStore", "Usage"]

#: Outcomes that count against quotas: a reserved mint (upstream call in flight) and a minted key.
COUNTED = ("reserved", "minted")
DAY = 86_400.0

_meta = sa.MetaData()
mints = sa.Table(
    "rtj_mints",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("user", sa.String(255), nullable=False, index=True),
    sa.Column("groups", sa.Text, nullable=False, default=","),  # ",a,b," for LIKE '%,a,%'
    sa.Column("model", sa.String(120), nullable=False),
    sa.Column("outcome", sa.String(60), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("minutes", sa.Float, nullable=False, default=0.0),
    sa.Column("via", sa.String(120), nullable=False, default="-"),
)
locks = sa.Table(
    "rtj_locks",
    _meta,
    sa.Column("name", sa.String(300), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False, default=0),
)

_LIMIT_FIELDS = ("mints_per_minute", "session_minutes_per_day")


@dataclass(frozen=True)
class Limits:
    """A quota: mints per minute and session minutes per UTC day (``None``: unlimited)."""

    mints_per_minute: int | None = None
    session_minutes_per_day: float | None = None

    @classmethod
    def parse(cls, value: Any, where: str) -> Limits:
        """``{"mints_per_minute"?: int, "session_minutes_per_day"?: number}`` checked;
        ``ValueError`` naming ``where`` and the bad field."""
        if isinstance(value, Limits):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected a dict with {list(_LIMIT_FIELDS)}")
        unknown = sorted(set(value) - set(_LIMIT_FIELDS))
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; known: {list(_LIMIT_FIELDS)}")
        out: dict[str, Any] = {}
        for name in _LIMIT_FIELDS:
            item = value.get(name)
            if item is None:
                continue
            if isinstance(item, bool) or not isinstance(item, int | float) or item < 0:
                raise ValueError(f"{where}: {name!r} must be a number >= 0 or None")
            if name == "mints_per_minute" and not float(item).is_integer():
                raise ValueError(f"{where}: 'mints_per_minute' must be a whole number")
            out[name] = int(item) if name == "mints_per_minute" else float(item)
        return cls(**out)

    def most_generous(self, other: Limits) -> Limits:
        """Field by field, the larger of two quotas (``None``, unlimited, wins)."""

        def pick(a: float | None, b: float | None) -> Any:
            return None if a is None or b is None else max(a, b)

        return Limits(
            pick(self.mints_per_minute, other.mints_per_minute),
            pick(self.session_minutes_per_day, other.session_minutes_per_day),
        )


class QuotaExceeded(KeyMintError):
    """A mint refused by a quota (HTTP 429), with the seconds until it may succeed."""

    def __init__(self, message: str, *, code: str, retry_after: int, hint: str) -> None:
        super().__init__(429, message, code=code, hint=hint)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Usage:
    """One user's usage today (UTC), for the admin page."""

    user: str
    groups: str
    minted_today: int
    minutes_today: float
    minted_last_minute: int
    refused_today: int
    last_at: float
    last_outcome: str


def _day_start(now: float) -> float:
    return math.floor(now / DAY) * DAY


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _groups_text(groups: Iterable[str]) -> str:
    return "," + "".join(f"{g.replace(',', '_')}," for g in sorted(set(groups)))


class QuotaStore:
    """Quota counts and audit rows in the database at ``url`` (any SQLAlchemy URL); each mint is
    charged ``minutes_per_mint`` session minutes."""

    def __init__(self, url: str, *, minutes_per_mint: float = 30.0) -> None:
        self.url = url
        self.minutes_per_mint = minutes_per_mint
        self.engine = _engine(url)
        _meta.create_all(self.engine)

    def close(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()

    # --- quota ---------------------------------------------------------------------------------

    def reserve(
        self,
        user: str,
        groups: Iterable[str],
        *,
        limits: Limits,
        group_totals: Mapping[str, Limits],
        model: str,
        via: str,
        now: float | None = None,
    ) -> int:
        """Count a mint for ``user`` against ``limits`` and the shared ``group_totals`` of their
        groups, atomically across processes; returns the reserved row's id (settle it with
        :meth:`settle`) or raises :class:`QuotaExceeded` (after writing the refusal)."""
        now = time.time() if now is None else now
        member_of = sorted(set(groups))
        limited = {g: group_totals[g] for g in member_of if g in group_totals}
        names = sorted({f"user:{user}", *(f"group:{g}" for g in limited)})
        self._ensure_lock_rows(names)
        refusal: QuotaExceeded | None = None
        with self.engine.begin() as conn:
            for name in names:  # sorted: two processes never wait on each other in a cycle
                conn.execute(locks.update().where(locks.c.name == name).values(n=locks.c.n + 1))
            refusal = self._check(conn, mints.c.user == user, limits, now, who="You")
            for group, group_limits in limited.items():
                if refusal is None:
                    refusal = self._check(
                        conn,
                        mints.c.groups.like(f"%,{_like_escaped(group)},%", escape="\\"),
                        group_limits,
                        now,
                        who=f"The group {group!r}",
                    )
            outcome = refusal.code if refusal is not None else "reserved"
            row = conn.execute(
                mints.insert().values(
                    at=now,
                    user=user,
                    groups=_groups_text(member_of),
                    model=model,
                    outcome=outcome,
                    status=429 if refusal is not None else 0,
                    minutes=0.0 if refusal is not None else self.minutes_per_mint,
                    via=via,
                )
            )
            key = row.inserted_primary_key
            assert key is not None
            row_id = int(key[0])
        if refusal is not None:
            raise refusal
        return row_id

    def _check(
        self, conn: Connection, who_filter: Any, limits: Limits, now: float, *, who: str
    ) -> QuotaExceeded | None:
        counted = sa.and_(who_filter, mints.c.outcome.in_(COUNTED))
        hint = "An administrator sets the quotas (c.HubService.user_limits, group_limits, ...)."
        if limits.mints_per_minute is not None:
            recent = conn.execute(
                sa.select(sa.func.count(), sa.func.min(mints.c.at)).where(
                    counted, mints.c.at > now - 60.0
                )
            ).one()
            if int(recent[0]) >= limits.mints_per_minute:
                oldest = float(recent[1]) if recent[1] is not None else now
                retry = max(1, math.ceil(60.0 - (now - oldest)))
                return QuotaExceeded(
                    f"{who} requested {int(recent[0])} session keys in the last minute; the "
                    f"limit is {limits.mints_per_minute} a minute. Try again in {retry} s.",
                    code="rate_limited",
                    retry_after=retry,
                    hint=hint,
                )
        if limits.session_minutes_per_day is not None:
            day = _day_start(now)
            used = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(mints.c.minutes), 0.0)).where(
                    counted, mints.c.at >= day
                )
            ).scalar_one()
            if float(used) + self.minutes_per_mint > limits.session_minutes_per_day:
                retry = max(1, math.ceil(day + DAY - now))
                return QuotaExceeded(
                    f"{who} used {float(used):g} of {limits.session_minutes_per_day:g} session "
                    f"minutes today (each session key counts {self.minutes_per_mint:g} "
                    "minutes); the quota resets at 00:00 UTC.",
                    code="quota_exceeded",
                    retry_after=retry,
                    hint=hint,
                )
        return None

    def _ensure_lock_rows(self, names: list[str]) -> None:
        for name in names:
            with self.engine.connect() as conn:
                exists = conn.execute(sa.select(locks.c.name).where(locks.c.name == name)).first()
            if exists is not None:
                continue
            try:
                with self.engine.begin() as conn:
                    conn.execute(locks.insert().values(name=name, n=0))
            except IntegrityError:  # another process made it first
                pass

    def settle(self, row_id: int, outcome: str, status: int) -> None:
        """The outcome of a reserved mint: ``"minted"`` keeps counting; any failure stops."""
        with self.engine.begin() as conn:
            values: dict[str, Any] = {"outcome": outcome[:60], "status": status}
            if outcome != "minted":
                values["minutes"] = 0.0
            conn.execute(mints.update().where(mints.c.id == row_id).values(**values))

    def record(
        self,
        user: str,
        groups: Iterable[str],
        *,
        model: str,
        outcome: str,
        status: int,
        via: str,
        now: float | None = None,
    ) -> None:
        """An audit row for an attempt refused before the quota (never counted)."""
        with self.engine.begin() as conn:
            conn.execute(
                mints.insert().values(
                    at=time.time() if now is None else now,
                    user=user[:255],
                    groups=_groups_text(groups),
                    model=model[:120],
                    outcome=outcome[:60],
                    status=status,
                    minutes=0.0,
                    via=via,
                )
            )

    # --- reading -------------------------------------------------------------------------------

    def usage(self, now: float | None = None) -> list[Usage]:
        """Per user, today's (UTC) usage, most recent first (a failed or refused attempt counts
        as refused)."""
        now = time.time() if now is None else now
        day = _day_start(now)
        counted = mints.c.outcome.in_(COUNTED)
        query = (
            sa.select(
                mints.c.user,
                sa.func.max(mints.c.groups),
                sa.func.sum(sa.case((counted, 1), else_=0)),
                sa.func.sum(sa.case((counted, mints.c.minutes), else_=0.0)),
                sa.func.sum(sa.case((sa.and_(counted, mints.c.at > now - 60.0), 1), else_=0)),
                sa.func.sum(sa.case((counted, 0), else_=1)),
                sa.func.max(mints.c.at),
            )
            .where(mints.c.at >= day, mints.c.at < day + DAY)
            .group_by(mints.c.user)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            last = {
                row.user: row.outcome
                for row in conn.execute(
                    sa.select(mints.c.user, mints.c.outcome)
                    .where(mints.c.at >= day, mints.c.at < day + DAY)
                    .order_by(mints.c.at, mints.c.id)
                )
            }
        out = [
            Usage(
                user=str(r[0]),
                groups=str(r[1] or ",").strip(","),
                minted_today=int(r[2] or 0),
                minutes_today=float(r[3] or 0.0),
                minted_last_minute=int(r[4] or 0),
                refused_today=int(r[5] or 0),
                last_at=float(r[6] or 0.0),
                last_outcome=last.get(str(r[0]), "-"),
            )
            for r in rows
        ]
        return sorted(out, key=lambda u: -u.last_at)

    def audit(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest ``limit`` audit rows."""
        query = sa.select(mints).order_by(mints.c.at.desc(), mints.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


def _engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets a generous busy timeout, ``BEGIN IMMEDIATE``
    transactions (the write lock before the counts are read) and WAL journaling."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database in (None, "", ":memory:"):
        raise ValueError(
            f"{url!r} is an in-memory SQLite database, which no other connection or process "
            "sees: give a file (sqlite:///path/to/rt-jupyter.sqlite) or a server database URL"
        )
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event opens transactions
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
