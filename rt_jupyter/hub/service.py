"""The hub service's web app: JupyterHub-authenticated key minting and the admin page.

Routes (under ``$JUPYTERHUB_SERVICE_PREFIX``, e.g. ``/services/rt-jupyter/``):

* ``POST api/session`` — ``Authorization: token <Hub API token>`` only (the user's server sends
  its ``$JUPYTERHUB_API_TOKEN``; no cookie is read, so no page can ride a login). The token's Hub
  user is the identity: the body (``{"model"?, "session"?}``, as for the server extension) names
  no user. The admin policy (``c.RealtimeExtension``), then the user's and groups' quotas, then
  the upstream mint with the standard key; refusals are ``{"error": {"message", "code",
  "hint"?}}`` with 400, 401 (no token), 403 (a token the Hub refuses or without
  ``access:services!service=<name>``), 429 (quota, with ``Retry-After``), 502.
* ``GET admin`` (HTML) and ``GET api/usage`` (JSON) — Hub admins only (OAuth login in a browser,
  or a token).
* ``GET oauth_callback`` — JupyterHub's OAuth callback.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import html
import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from jupyterhub.services.auth import (  # type: ignore[import-untyped]
    HubOAuth,
    HubOAuthCallbackHandler,
    HubOAuthenticated,
    UserNotAllowed,
)
from tornado import web
from traitlets import Dict, Float, Int, Unicode, default, validate
from traitlets.config import Config, LoggingConfigurable

from ..jupyter.extension import RealtimeExtension
from ..jupyter.mint import MintError, RateLimiter, audit_line, scrub
from .store import Limits, QuotaExceeded, QuotaStore, Usage

__all__ = ["HubService", "make_app"]

_log = logging.getLogger(__name__)


def _limits_trait(help: str) -> Any:
    return Dict(config=True, help=help)


class HubService(LoggingConfigurable):
    """Quotas and database of the hub service (``c.HubService.…`` in its config file). The
    policy, models, upstream and key are ``c.RealtimeExtension.…``, as for a Jupyter server."""

    db_url = Unicode(
        "sqlite:///rt-jupyter-hub.sqlite",
        config=True,
        help="SQLAlchemy URL of the quota and audit database. SQLite (the default, a file in "
        "the service's working directory) for one Hub; PostgreSQL (postgresql+psycopg://...) "
        "when several hub replicas run the service.",
    )
    minutes_per_mint = Float(
        30.0,
        min=0.0,
        config=True,
        help="Session minutes each minted key counts against the daily quotas (the service "
        "cannot see how long a browser's call lasts, so it charges this at mint time).",
    )
    user_limits = _limits_trait(
        "Every user's quota: {'mints_per_minute': int|None, 'session_minutes_per_day': "
        "number|None} (None: unlimited). Default: 10 a minute, 240 minutes a day."
    )
    group_limits = _limits_trait(
        "Per-member quotas by Hub group, {group: {...}}: a member gets the most generous of their "
        "groups' quotas instead of user_limits."
    )
    users = _limits_trait("Per-user quotas, {name: {...}}: replace user_limits and group_limits.")
    group_totals = _limits_trait(
        "Quotas shared by all members of a group together, {group: {...}}: checked as well."
    )

    attempts_per_minute = Int(
        120,
        min=1,
        config=True,
        help="Requests (minted or refused) one Hub user may make a minute, per service "
        "process, before they are refused without a database row (keeps the audit table "
        "bounded); set it above every mints_per_minute.",
    )

    @default("user_limits")
    def _default_user_limits(self) -> dict[str, Any]:
        return {"mints_per_minute": 10, "session_minutes_per_day": 240}

    @validate("user_limits")
    def _check_user_limits(self, proposal: Any) -> dict[str, Any]:
        Limits.parse(proposal["value"], "c.HubService.user_limits")
        return dict(proposal["value"])

    @validate("group_limits", "users", "group_totals")
    def _check_tables(self, proposal: Any) -> dict[str, Any]:
        name = proposal["trait"].name
        for key, value in proposal["value"].items():
            Limits.parse(value, f"c.HubService.{name}[{key!r}]")
        return dict(proposal["value"])

    def limits_for(self, user: str, groups: list[str]) -> Limits:
        """The per-user quota of ``user`` in ``groups``."""
        if user in self.users:
            return Limits.parse(self.users[user], user)
        chosen: Limits | None = None
        for group in groups:
            if group in self.group_limits:
                limits = Limits.parse(self.group_limits[group], group)
                chosen = limits if chosen is None else chosen.most_generous(limits)
        return chosen or Limits.parse(self.user_limits, "user_limits")

    @property
    def totals(self) -> dict[str, Limits]:
        """The shared group quotas."""
        return {g: Limits.parse(v, g) for g, v in self.group_totals.items()}


class Minter:
    """What the handlers share: the policy and upstream (a :class:`RealtimeExtension` with the
    key), the quotas, the store, HubOAuth and the service's name."""

    def __init__(self, config: Config, *, name: str, db_url: str | None = None) -> None:
        self.ext = RealtimeExtension(config=config, hub_service_url="")
        if not self.ext.key_configured or self.ext.local:
            raise SystemExit(
                "rt-jupyter hub-service: no standard API key. Give the service OPENAI_API_KEY in "
                "its environment (the 'environment' of its entry in c.JupyterHub.services) or "
                "c.RealtimeExtension.api_key in its config file."
            )
        self.quotas = HubService(config=config)
        self.store = QuotaStore(
            db_url or self.quotas.db_url, minutes_per_mint=self.quotas.minutes_per_mint
        )
        self.name = name
        self.hub_auth = HubOAuth.instance(cache_max_age=60)
        self.flood = RateLimiter(self.quotas.attempts_per_minute)

    def admit(self, who: str) -> None:
        """Count an attempt by a known Hub user or service: past ``attempts_per_minute`` it is
        refused (429) before the database, with a log line only, so no one grows the audit
        table without bound."""
        try:
            self.flood.check(who)
        except MintError as exc:
            self.audit(who, "-", "too_many_attempts", 429)
            raise MintError(
                429,
                exc.message.replace("session keys requested", "requests"),
                code="rate_limited",
                hint="An administrator sets c.HubService.attempts_per_minute.",
            ) from None

    def audit(self, user: str, model: str, outcome: str, status: int) -> None:
        """One audit line in the service's log (the database row is written by the store)."""
        audit_line(
            user=user,
            model=model,
            dialect=self.ext.resolved_dialect.value,
            upstream="remote",
            outcome=outcome,
            status=status,
            via=f"hub:{self.name}",
        )

    async def mint(self, user: str, groups: list[str], body: Any) -> dict[str, Any]:
        """Policy, quota, upstream: the browser's token JSON, or :class:`MintError`."""
        requested = body.get("model") if isinstance(body, Mapping) else None
        shown = requested if isinstance(requested, str) else self.ext.resolved_model
        try:
            model, session = self.ext.mint_policy.check(body)
        except MintError as exc:
            await asyncio.to_thread(
                self.store.record,
                user,
                groups,
                model=shown,
                outcome=exc.code,
                status=exc.status,
                via=self.name,
            )
            self.audit(user, shown, exc.code, exc.status)
            raise
        try:
            row = await asyncio.to_thread(
                self.store.reserve,
                user,
                groups,
                limits=self.quotas.limits_for(user, groups),
                group_totals=self.quotas.totals,
                model=model,
                via=self.name,
            )
        except QuotaExceeded as exc:
            self.audit(user, model, exc.code, 429)
            raise
        try:
            token = await self.ext.mint_upstream(model, session)
        except MintError as exc:
            await asyncio.to_thread(self.store.settle, row, exc.code, exc.status)
            self.audit(user, model, exc.code, exc.status)
            raise
        except Exception:
            await asyncio.to_thread(self.store.settle, row, "server_error", 500)
            self.audit(user, model, "server_error", 500)
            raise
        await asyncio.to_thread(self.store.settle, row, "minted", 200)
        self.audit(user, token.model, "minted", 200)
        return token.to_json()


class _Handler(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
    minter: Minter
    refused_model: dict[str, Any] | None = None

    def initialize(self, minter: Minter) -> None:
        self.minter = minter
        self.hub_auth = minter.hub_auth

    async def prepare(self) -> None:
        """Ask the Hub who this is (asynchronously); ``current_user`` is the Hub's user model,
        or None (``refused_model`` keeps a known user the service's scopes refuse)."""
        model = await self.hub_auth.get_user(self, sync=False)
        self.current_user = None
        if model:
            try:
                self.current_user = self.check_hub_user(model)
            except UserNotAllowed:
                self.refused_model = model

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason or "error"
        self.finish({"error": {"message": reason, "code": f"http_{status_code}"}})

    def answer_error(self, exc: MintError) -> None:
        self.set_status(exc.status)
        if isinstance(exc, QuotaExceeded):
            self.set_header("Retry-After", str(exc.retry_after))
        self.set_header("Cache-Control", "no-store")
        self.finish(exc.to_json())


class SessionHandler(_Handler):
    """``POST api/session``: an ephemeral key for the Hub user who owns the token."""

    async def post(self) -> None:
        minter = self.minter
        by_token = bool(getattr(self, "_token_authenticated", False))  # never a cookie login
        known = (self.current_user or self.refused_model) if by_token else None
        if known is None:  # audited in the log only: no database row for strangers
            has_header = bool(self.request.headers.get("Authorization", "").strip())
            await self._refuse(
                "-",
                MintError(
                    403,
                    "JupyterHub did not accept this token.",
                    code="bad_token",
                    hint="Send the API token of a Hub user with the scope "
                    f"access:services!service={minter.name}.",
                )
                if has_header
                else MintError(
                    401,
                    "Send a JupyterHub API token: 'Authorization: token $JUPYTERHUB_API_TOKEN' "
                    "(a user's server does this for its browser).",
                    code="unauthenticated",
                ),
                record=False,
            )
            return
        kind = str(known.get("kind", "user"))
        who = str(known.get("name", "-"))
        who = who if kind == "user" else f"{kind}:{who}"
        try:
            minter.admit(who)
        except MintError as exc:
            self.answer_error(exc)
            return
        user_model = self.current_user
        if user_model is None:
            await self._refuse(
                who,
                MintError(
                    403,
                    f"The Hub token of {who!r} may not use this service: it needs the scope "
                    f"access:services!service={minter.name}.",
                    code="not_allowed",
                    hint="An administrator grants access:services!service="
                    f"{minter.name} to users and c.Spawner.server_token_scopes.",
                ),
            )
            return
        if kind != "user":
            await self._refuse(
                who, MintError(403, "Only Hub users get session keys.", code="not_a_user")
            )
            return
        user = str(user_model["name"])
        groups = [str(g) for g in user_model.get("groups") or []]
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            await self._refuse(
                user,
                MintError(400, "The request body must be JSON.", code="invalid_json"),
                groups,
            )
            return
        try:
            token = await minter.mint(user, groups, body)
        except MintError as exc:
            self.answer_error(exc)
            return
        except Exception as exc:  # never a traceback page, never a key in the log
            _log.error(
                "rt-jupyter hub-service: minting for %s failed: %s: %s",
                user,
                type(exc).__name__,
                scrub(str(exc), [minter.ext._api_key]),
            )
            self.answer_error(
                MintError(500, "The hub service failed to mint; see its log.", code="server_error")
            )
            return
        self.set_header("Cache-Control", "no-store")
        self.finish(token)

    async def _refuse(
        self, user: str, exc: MintError, groups: list[str] | None = None, *, record: bool = True
    ) -> None:
        """Answer a refusal; audit it in the log, and in the database when ``record``."""
        minter = self.minter
        if record:
            await asyncio.to_thread(
                minter.store.record,
                user,
                groups or [],
                model="-",
                outcome=exc.code,
                status=exc.status,
                via=minter.name,
            )
        minter.audit(user, "-", exc.code, exc.status)
        self.answer_error(exc)


class _AdminHandler(_Handler):
    audit_rows = 200

    async def get(self) -> None:
        """Today's usage and the newest audit rows, for Hub admins only."""
        if not self.admin_or_refuse():
            return
        store = self.minter.store
        usage = await asyncio.to_thread(store.usage)
        audit = await asyncio.to_thread(store.audit, self.audit_rows)
        self.set_header("Cache-Control", "no-store")
        self.answer(usage, audit)

    def answer(self, usage: list[Usage], audit: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def admin_or_refuse(self) -> bool:
        """True for a Hub admin; otherwise answers (login redirect for a browser, or 403)."""
        user = self.current_user
        if user is None and self.refused_model is None:
            if self.request.headers.get("Authorization"):
                raise web.HTTPError(403, "JupyterHub did not accept this token.")
            self.redirect(self.get_login_url())
            return False
        if user is None or not user.get("admin"):
            who = (user or self.refused_model or {}).get("name", "-")
            raise web.HTTPError(403, f"{who} is not a JupyterHub admin.")
        return True


class UsageHandler(_AdminHandler):
    """``GET api/usage``: today's usage per user and the newest audit rows (JSON, admins)."""

    def answer(self, usage: list[Usage], audit: list[dict[str, Any]]) -> None:
        self.finish({"usage": [u.__dict__ for u in usage], "audit": audit})


class AdminPage(_AdminHandler):
    """``GET admin``: an HTML page of today's usage per user and the newest audit rows."""

    audit_rows = 100

    def answer(self, usage: list[Usage], audit: list[dict[str, Any]]) -> None:
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.finish(admin_html(self.minter, usage, audit))


def _when(at: float) -> str:
    return _dt.datetime.fromtimestamp(at, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def admin_html(minter: Minter, usage: list[Usage], audit: list[dict[str, Any]]) -> str:
    """The admin page (every value escaped)."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(u.user)}</td><td>{e(u.groups)}</td><td>{u.minted_today}</td>"
        f"<td>{u.minutes_today:g}</td><td>{u.minted_last_minute}</td><td>{u.refused_today}</td>"
        f"<td>{e(_when(u.last_at))}</td><td>{e(u.last_outcome)}</td></tr>"
        for u in usage
    )
    lines = "".join(
        f"<tr><td>{e(_when(float(r['at'])))}</td><td>{e(str(r['user']))}</td>"
        f"<td>{e(str(r['model']))}</td><td>{e(str(r['outcome']))}</td><td>{r['status']}</td>"
        f"<td>{e(str(r['via']))}</td></tr>"
        for r in audit
    )
    quotas = minter.quotas
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>rt_jupyter usage</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}</style></head><body>
<h1>rt_jupyter: realtime session keys today (UTC)</h1>
<p>Each key counts {quotas.minutes_per_mint:g} session minutes. Default quota per user:
{e(json.dumps(quotas.user_limits))}; group member quotas: {e(json.dumps(quotas.group_limits))};
per-user quotas: {e(json.dumps(quotas.users))}; group totals: {e(json.dumps(quotas.group_totals))}.
</p>
<table id="usage"><tr><th>user</th><th>groups</th><th>keys today</th><th>minutes today</th>
<th>keys last minute</th><th>refused today</th><th>last request</th><th>last outcome</th></tr>
{rows}</table>
<h2>Audit log (newest first)</h2>
<table id="audit"><tr><th>time (UTC)</th><th>user</th><th>model</th><th>outcome</th><th>status</th>
<th>service</th></tr>{lines}</table></body></html>"""


def make_app(minter: Minter, prefix: str) -> web.Application:
    """The tornado application of the service under ``prefix`` (``/services/<name>/``)."""
    prefix = "/" + prefix.strip("/") + "/"
    return web.Application(
        [
            (prefix + "api/session", SessionHandler, {"minter": minter}),
            (prefix + "api/usage", UsageHandler, {"minter": minter}),
            (prefix + "admin", AdminPage, {"minter": minter}),
            (prefix + "oauth_callback", HubOAuthCallbackHandler),
            (prefix, web.RedirectHandler, {"url": prefix + "admin"}),
        ],
        cookie_secret=secrets.token_bytes(32),
        login_url=prefix + "admin",
    )
