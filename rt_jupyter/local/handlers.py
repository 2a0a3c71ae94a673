"""Tornado handlers of the local realtime service: REST (client secrets, beta sessions, WebRTC SDP,
call control) and the WebSocket. :func:`make_handlers` returns routes under any prefix, so the same
handlers run standalone (``rt-jupyter serve``) or mounted inside the Jupyter server."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import functools
import importlib
import json
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import tornado.log
import tornado.web
import tornado.websocket

from ..protocol import DEFAULT_MODEL, Dialect, ProtocolError, SessionConfig, validate_session
from ..protocol.dialects import session_to_ga
from ..protocol.events import ascii_json
from ..protocol.providers import redact_url
from ..protocol.schema import Int, Obj, Str
from ..protocol.schema import validate as schema_validate
from .faults import Faults, FaultyTransport
from .keys import GA_KEY_TTL_DEFAULT, AuthError, KeyStore, Principal
from .session import Engines, LocalSession, SessionOptions

__all__ = ["DEFAULT_ALLOWED_ORIGINS", "MAX_MINT_BODY", "ServiceState", "make_handlers"]

log = logging.getLogger("rt_jupyter.local")

MAX_WS_MESSAGE = 32 * 1024 * 1024
_BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
_KEY_SUBPROTOCOL = "openai-insecure-api-key."
#: Origins of other pages allowed to call the service by default: loopback ones (a notebook or a
#: test page on this machine); ``host:*`` means any port.
DEFAULT_ALLOWED_ORIGINS: tuple[str, ...] = tuple(
    f"{scheme}://{host}{port}"
    for scheme in ("http", "https")
    for host in ("127.0.0.1", "localhost", "[::1]")
    for port in ("", ":*")
)
#: The largest body the minting routes read (a session configuration, not audio).
MAX_MINT_BODY = 1024 * 1024


@dataclass
class ServiceState:
    """What every handler of one service shares."""

    keys: KeyStore
    engines: Engines
    beta_shape_disabled: bool = False
    max_session_s: dict[Dialect, float] = field(
        default_factory=lambda: {Dialect.GA: 3600.0, Dialect.BETA: 1800.0}
    )
    cors: bool = True
    allow_origins: tuple[str, ...] = DEFAULT_ALLOWED_ORIGINS
    allow_standard_keys: bool = True
    default_model: str = DEFAULT_MODEL
    ice_host: str = "127.0.0.1"
    sessions: set[LocalSession] = field(default_factory=set)
    calls: dict[str, Any] = field(default_factory=dict)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=16, thread_name_prefix="rtj-engines")
    )
    faults: Faults | None = None
    on_session: Callable[[LocalSession], None] | None = None
    #: Azure deployment names the Azure routes accept (``None``: any name).
    deployments: frozenset[str] | None = None
    #: Play a gateway that serves the beta shape only: GA mint and call routes answer 404 and
    #: WebSocket sessions are beta with or without ``OpenAI-Beta``.
    ga_shape_disabled: bool = False

    def session_config(
        self,
        principal: Principal,
        *,
        model: str | None,
        transcription: bool = False,
        dialect: Dialect = Dialect.GA,
    ) -> SessionConfig:
        """The starting configuration: defaults, then the ephemeral key's session, if any."""
        ek = principal.ephemeral
        requested = dict(ek.session) if ek is not None else {}
        session_type = "transcription" if transcription else str(requested.get("type", "realtime"))
        chosen_model = str(requested.get("model") or model or self.default_model)
        config = SessionConfig.default(
            chosen_model,
            session_type=session_type,
            expires_at=int(time.time() + self.max_session_s[dialect]),
        )
        update = {k: v for k, v in requested.items() if k not in ("model", "type")}
        if update:
            config.apply_update(update)
        return config


# --- helpers -------------------------------------------------------------------------------------


def _bearer(handler: tornado.web.RequestHandler) -> str | None:
    header = handler.request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


# Azure OpenAI's routes (``azure`` handler argument): "v1" under /openai/v1/realtime, "preview"
# under /openai/realtime and /openai/realtimeapi/sessions (api-version required, the deployment
# as the model), "rtc" the preview API's regional WebRTC URL /v1/realtimertc (ephemeral keys).
# Azure takes the key in an ``api-key`` header, or a bearer token (Entra ID; and the v1 API
# accepts the key as a bearer token too): learn.microsoft.com azure/ai-foundry/openai/how-to/
# realtime-audio-websockets ("Connection and authentication") and realtime-audio-webrtc(-legacy).
_DATED_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


def _credential(
    handler: tornado.web.RequestHandler,
    azure: str | None,
    *,
    query: bool = False,
    subprotocol: str | None = None,
) -> str | None:
    """The key a request carries: ``Authorization: Bearer``; on Azure routes also the ``api-key``
    header and, with ``query`` (the WebSocket), the ``api-key`` query parameter, which Microsoft
    documents for browsers, as they cannot set headers on a WebSocket (how-to/realtime-audio-
    websockets: "an api-key query string parameter on the request URI"). ``subprotocol``: a key
    offered as ``openai-insecure-api-key.<key>``. On Azure routes a request that carries two
    different credentials is refused (:class:`AuthError`): the service never picks one."""
    bearer = _bearer(handler)
    if azure is None:
        return subprotocol or bearer
    found = [handler.request.headers.get("api-key", ""), bearer or "", subprotocol or ""]
    if query:
        found.extend(handler.get_query_arguments("api-key"))
    distinct = {key.strip() for key in found if key.strip()}
    if len(distinct) > 1:
        raise AuthError(
            "The request carries more than one credential (api-key header, api-key query "
            "parameter, Authorization): send one.",
            code="invalid_api_key",
        )
    return next(iter(distinct), None)


def _request_summary(handler: tornado.web.RequestHandler) -> str:
    """Tornado's request summary for its logs, without the value of a key in the URL."""
    request = handler.request
    return f"{request.method} {redact_url(request.uri or '')} ({request.remote_ip})"


def _log_exception(handler: tornado.web.RequestHandler, typ: Any, value: Any, tb: Any) -> None:
    """Tornado's ``log_exception`` without ``repr(request)`` (it holds the unredacted URL)."""
    if isinstance(value, tornado.web.HTTPError):
        if value.log_message:
            args = [value.status_code, _request_summary(handler), *value.args]
            tornado.log.gen_log.warning("%d %s: " + value.log_message, *args)
    else:
        tornado.log.app_log.error(
            "Uncaught exception %s", _request_summary(handler), exc_info=(typ, value, tb)
        )


def _azure_refusal(
    handler: tornado.web.RequestHandler, state: ServiceState, azure: str | None, model: Any
) -> tuple[int, str, str] | None:
    """Why an Azure route refuses the request (status, message, code), or ``None``: a missing
    or undated api-version on the preview API, an unknown deployment."""
    if azure == "preview":
        version = handler.get_query_argument("api-version", None)
        if not version:
            return 400, "Missing required query parameter 'api-version'.", "MissingApiVersion"
        if not _DATED_VERSION.match(version):
            return 400, f"Unsupported api-version '{version}'.", "InvalidApiVersion"
    known = state.deployments
    if azure is not None and known is not None and isinstance(model, str) and model not in known:
        return (
            404,
            f"The API deployment '{model}' for this resource does not exist.",
            "DeploymentNotFound",
        )
    return None


def _json_error(handler: tornado.web.RequestHandler, status_code: int) -> None:
    handler.set_header("Content-Type", "application/json")
    error_type = "invalid_request_error" if status_code < 500 else "server_error"
    error = {"message": handler._reason, "type": error_type, "param": None, "code": None}
    handler.finish(json.dumps({"error": error}))


def _check_fault_keys(state: ServiceState) -> None:
    if state.faults is not None and state.faults.reject_keys:
        raise AuthError("Incorrect API key provided (fault injection: reject_keys).")


def _rest_error(
    handler: tornado.web.RequestHandler,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
) -> None:
    handler.set_status(status)
    handler.set_header("Content-Type", "application/json")
    error_type = "invalid_request_error" if status < 500 else "server_error"
    handler.finish(
        json.dumps(
            {"error": {"message": message, "type": error_type, "param": param, "code": code}}
        )
    )


def load_engines(factory: Callable[[], Engines]) -> Engines:
    """Build the engines with ``factory`` and import the WebRTC stack (aiortc and PyAV, about
    250 ms), so that the first call does not wait for it. Blocking: run it in a worker thread."""
    engines = factory()
    with contextlib.suppress(ImportError):
        importlib.import_module(f"{__package__}.webrtc")
    return engines


def origin_matches(origin: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``origin`` (``scheme://host[:port]``) is one of ``patterns`` (``*`` = any origin,
    ``scheme://host:*`` = that host on any port)."""
    origin = origin.lower()
    for pattern in patterns:
        pattern = pattern.lower().rstrip("/")
        if pattern in ("*", origin):
            return True
        wildcard = pattern.endswith(":*") and origin.startswith(pattern[:-1])
        if wildcard and origin[len(pattern) - 1 :].isdigit():
            return True
    return False


def _same_origin(handler: tornado.web.RequestHandler, origin: str) -> bool:
    return urlsplit(origin).netloc.lower() == handler.request.host.lower()


def origin_allowed(handler: tornado.web.RequestHandler, state: ServiceState) -> bool:
    """Whether the request may come from its page: no ``Origin`` (not a browser page), the
    service's own origin, or (``state.cors``) one of ``state.allow_origins``."""
    origin = handler.request.headers.get("Origin")
    if origin is None or _same_origin(handler, origin):
        return True
    return state.cors and origin_matches(origin, state.allow_origins)


def _refuse_origin(handler: tornado.web.RequestHandler) -> None:
    origin = handler.request.headers.get("Origin", "")
    _rest_error(
        handler,
        403,
        f"Requests from the origin {origin!r} are not allowed by this service; start it with "
        "--allow-origin (allow_origins=) to let that page call it.",
        code="origin_not_allowed",
    )


def _cors_headers(handler: tornado.web.RequestHandler, state: ServiceState) -> None:
    """Let pages of the allowed origins call the REST routes with an API key."""
    origin = handler.request.headers.get("Origin")
    if state.cors and origin is not None and origin_matches(origin, state.allow_origins):
        handler.set_header("Access-Control-Allow-Origin", origin)
        handler.set_header(
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, OpenAI-Beta, OpenAI-Organization, OpenAI-Project, "
            "OpenAI-Safety-Identifier, X-Stainless-Lang, X-Stainless-Package-Version, "
            "X-Stainless-OS, X-Stainless-Arch, X-Stainless-Runtime, "
            "X-Stainless-Runtime-Version, X-Stainless-Retry-Count, X-Stainless-Read-Timeout",
        )
        handler.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        handler.set_header("Access-Control-Expose-Headers", "Location")
        handler.set_header("Vary", "Origin")


class _Base(tornado.web.RequestHandler):
    state: ServiceState
    azure: str | None = None

    def initialize(self, state: ServiceState, azure: str | None = None) -> None:
        self.state = state
        self.azure = azure

    def refuse_azure(self, model: Any = None) -> bool:
        """Answer an Azure route's refusal (:func:`_azure_refusal`); ``True`` if refused."""
        refusal = _azure_refusal(self, self.state, self.azure, model)
        if refusal is None:
            return False
        _rest_error(self, refusal[0], refusal[1], code=refusal[2])
        return True

    def refuse_ga_shape(self) -> bool:
        """Answer 404 on a GA route of a beta-only service; ``True`` if refused."""
        if not self.state.ga_shape_disabled:
            return False
        _rest_error(self, 404, f"Invalid URL (POST {self.request.path})", code="not_found")
        return True

    def prepare(self) -> None:
        _cors_headers(self, self.state)
        if (
            self.state.cors
            and self.request.method != "OPTIONS"
            and not origin_allowed(self, self.state)
        ):
            _refuse_origin(self)

    def check_xsrf_cookie(self) -> None:  # API keys, not cookies, authenticate these routes
        return None

    def _request_summary(self) -> str:  # what tornado's access log shows: no key from the URL
        return _request_summary(self)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        _log_exception(self, typ, value, tb)

    def options(self, *args: Any) -> None:
        self.set_status(204)
        self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors tornado raises itself (malformed bodies...) as OpenAI-style JSON too."""
        _json_error(self, status_code)

    def authenticate(
        self, *, allow_standard: bool = True, standard_only: bool = False, opening: bool = True
    ) -> Principal | None:
        """The caller, or None after answering 401. ``standard_only``: minting routes, which an
        ephemeral key must not use to make more (and longer-lived) keys; ``opening=False``: a
        route that opens no session (a used single-use key may hang up its own call)."""
        try:
            _check_fault_keys(self.state)
            principal = self.state.keys.authenticate(
                _credential(self, self.azure),
                allow_standard=allow_standard and self.state.allow_standard_keys,
                opening=opening,
            )
            if standard_only and principal.ephemeral is not None:
                self.state.keys.refusals += 1
                raise AuthError(
                    "Ephemeral keys cannot mint keys: use a standard API key for this endpoint.",
                    code="invalid_api_key",
                )
            return principal
        except AuthError as exc:
            self.set_status(exc.status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(exc.to_json()))
            return None

    def json_body(self, limit: int | None = None) -> dict[str, Any] | None:
        """The request's JSON object, or None after answering 400 (bad JSON, over ``limit``)."""
        if limit is not None and len(self.request.body) > limit:
            _rest_error(
                self,
                400,
                f"The request body is too large: {len(self.request.body)} bytes, the limit is "
                f"{limit}.",
                code="request_too_large",
            )
            return None
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            _rest_error(
                self,
                400,
                f"We could not parse the JSON body of your request. ({exc})",
                code="invalid_json",
            )
            return None
        if not isinstance(body, dict):
            _rest_error(self, 400, "The request body must be a JSON object.", code="invalid_json")
            return None
        return body

    def protocol_error(self, exc: ProtocolError) -> None:
        _rest_error(self, 400, exc.message, code=exc.code, param=exc.param)

    def auth_error(self, exc: AuthError) -> None:
        self.set_status(exc.status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(exc.to_json()))


_EXPIRES_AFTER = Obj(
    {"anchor": Str(["created_at"]), "seconds": Int(10, 7200)},
)


class ClientSecretsHandler(_Base):
    """``POST /v1/realtime/client_secrets`` (GA): mint an ephemeral key for a session."""

    def post(self) -> None:
        if self.refuse_ga_shape() or self.refuse_azure():
            return
        principal = self.authenticate(standard_only=True)
        if principal is None:
            return
        body = self.json_body(MAX_MINT_BODY)
        if body is None:
            return
        if self.refuse_azure((body.get("session") or {}).get("model")):
            return
        try:
            schema_validate(
                body,
                Obj({"expires_after": _EXPIRES_AFTER, "session": Obj(open=True)}),
            )
            session = dict(body.get("session") or {"type": "realtime"})
            session.setdefault("type", "realtime")
            validate_session(session, Dialect.GA)
            config = SessionConfig.default(
                str(session.get("model") or self.state.default_model),
                session_type=str(session["type"]),
            )
            config.apply_update({k: v for k, v in session.items() if k not in ("model", "type")})
        except ProtocolError as exc:
            self.protocol_error(exc)
            return
        ttl = int((body.get("expires_after") or {}).get("seconds", GA_KEY_TTL_DEFAULT))
        stored = {**session, "model": config.model} if config.type == "realtime" else session
        try:
            key = self.state.keys.mint(stored, owner=principal.owner, dialect=Dialect.GA, ttl=ttl)
        except AuthError as exc:
            self.auth_error(exc)
            return
        wire = config.to_wire(Dialect.GA)
        wire["expires_at"] = 0
        self.finish({"value": key.value, "expires_at": int(key.expires_at), "session": wire})


class BetaSessionsHandler(_Base):
    """``POST /v1/realtime/sessions`` and ``/transcription_sessions`` (beta): session + key."""

    def initialize(
        self, state: ServiceState, azure: str | None = None, transcription: bool = False
    ) -> None:
        super().initialize(state, azure)
        self.transcription = transcription

    def post(self) -> None:
        if self.refuse_azure():
            return
        principal = self.authenticate(standard_only=True)
        if principal is None:
            return
        body = self.json_body(MAX_MINT_BODY)
        if body is None:
            return
        body.pop("client_secret", None)
        model = body.pop("model", None)
        if self.refuse_azure(model):
            return
        try:
            from ..protocol.schemas import BETA_TRANSCRIPTION_SESSION

            if self.transcription:
                schema_validate(body, BETA_TRANSCRIPTION_SESSION, "session")
            else:
                validate_session(body, Dialect.BETA)
            canonical = session_to_ga(body, transcription=self.transcription)
            config = SessionConfig.default(
                str(model or self.state.default_model),
                session_type="transcription" if self.transcription else "realtime",
            )
            config.apply_update({k: v for k, v in canonical.items() if k != "type"})
        except ProtocolError as exc:
            self.protocol_error(exc)
            return
        stored = {**canonical}
        if model:
            stored["model"] = model
        try:
            key = self.state.keys.mint(stored, owner=principal.owner, dialect=Dialect.BETA)
        except AuthError as exc:
            self.auth_error(exc)
            return
        wire = config.to_wire(Dialect.BETA)
        wire["client_secret"] = {"value": key.value, "expires_at": int(key.expires_at)}
        self.finish(wire)


class CallsHandler(_Base):
    """``POST /v1/realtime/calls`` (GA WebRTC): ``application/sdp`` with an ephemeral key, or
    ``multipart/form-data`` with ``sdp`` and ``session`` parts and a standard key."""

    async def post(self) -> None:
        if self.refuse_ga_shape() or self.refuse_azure():
            return
        principal = self.authenticate()
        if principal is None:
            return
        ctype = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        session_update: dict[str, Any] | None = None
        if ctype == "application/sdp":
            offer = self.request.body.decode("utf-8", "replace")
        elif ctype == "multipart/form-data":
            parts = _multipart(self.request.headers.get("Content-Type", ""), self.request.body)
            if "sdp" not in parts:
                _rest_error(
                    self,
                    400,
                    "Missing required parameter: 'sdp'.",
                    code="missing_required_parameter",
                    param="sdp",
                )
                return
            offer = parts["sdp"]
            if "session" in parts:
                try:
                    session_update = json.loads(parts["session"])
                    validate_session(session_update, Dialect.GA)
                except ValueError:
                    _rest_error(
                        self,
                        400,
                        "The 'session' part is not valid JSON.",
                        code="invalid_json",
                        param="session",
                    )
                    return
                except ProtocolError as exc:
                    self.protocol_error(exc)
                    return
        else:
            _rest_error(
                self,
                400,
                "Unsupported content type: send the SDP offer as application/sdp (with an "
                "ephemeral key) or multipart/form-data with 'sdp' and 'session' parts.",
                code="invalid_value",
                param="Content-Type",
            )
            return
        await answer_offer(self, principal, offer, Dialect.GA, session_update, model=None)


async def answer_offer(
    handler: _Base,
    principal: Principal,
    offer: str,
    dialect: Dialect,
    session_update: dict[str, Any] | None,
    *,
    model: str | None,
) -> None:
    """Answer a WebRTC offer (201 + SDP + ``Location``), or a JSON error."""
    state = handler.state
    if not offer.strip().startswith("v="):
        _rest_error(handler, 400, "The request body is not an SDP offer.", code="invalid_offer")
        return
    try:
        state.keys.open_session(principal)
    except AuthError as exc:
        handler.set_status(exc.status)
        handler.finish(exc.to_json())
        return
    try:
        config = state.session_config(principal, model=model, dialect=dialect)
        if session_update:
            config.apply_update({k: v for k, v in session_update.items() if k not in ("model",)})
        from .webrtc import start_call

        call = await start_call(state, principal, offer, dialect, config)
    except ProtocolError as exc:
        state.keys.close_session(principal)
        handler.protocol_error(exc)
        return
    except Exception as exc:
        state.keys.close_session(principal)
        log.exception("WebRTC offer failed")
        _rest_error(handler, 400, f"Could not answer the SDP offer: {exc}", code="invalid_offer")
        return
    handler.set_status(201)
    handler.set_header("Content-Type", "application/sdp")
    prefix = handler.request.path.split("/v1/realtime")[0]
    handler.set_header("Location", f"{prefix}/v1/realtime/calls/{call.call_id}")
    handler.finish(call.answer_sdp)


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    out: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            out[name] = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return out


class CallControlHandler(_Base):
    """``POST /v1/realtime/calls/{call_id}/hangup`` (and the SIP-only verbs, refused clearly)."""

    async def post(self, call_id: str, verb: str) -> None:
        principal = self.authenticate(opening=False)
        if principal is None:
            return
        call = self.state.calls.get(call_id)
        if call is None or not principal.controls(call.principal):  # others' calls: not found
            _rest_error(
                self, 404, f"Call '{call_id}' not found.", code="not_found", param="call_id"
            )
            return
        if verb != "hangup":
            _rest_error(
                self,
                400,
                f"'{verb}' applies to SIP calls; the local service has none.",
                code="invalid_value",
            )
            return
        await call.hangup()
        self.set_status(200)
        self.finish({})


class HealthHandler(_Base):
    """``GET /health``: service status for diagnostics."""

    def get(self) -> None:
        self.finish(
            {
                "status": "ok",
                "sessions": len(self.state.sessions),
                "calls": len(self.state.calls),
                "refusals": self.state.keys.refusals,
            }
        )


# --- the WebSocket -------------------------------------------------------------------------------


class _WsTransport:
    def __init__(self, handler: RealtimeHandler) -> None:
        self.handler = handler

    def send_text(self, text: str) -> None:
        try:
            try:
                fut = self.handler.write_message(text)
            except UnicodeEncodeError:  # an unpaired surrogate: send it escaped
                fut = self.handler.write_message(ascii_json(text))
            fut.add_done_callback(_swallow)
        except tornado.websocket.WebSocketClosedError:
            pass

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.handler.close(code, reason)

    def abort(self) -> None:
        connection = self.handler.ws_connection
        stream = getattr(connection, "stream", None)
        if stream is not None:
            stream.close()


def _swallow(fut: Any) -> None:
    with contextlib.suppress(Exception):
        fut.result()


class RealtimeHandler(tornado.websocket.WebSocketHandler):
    """``GET /v1/realtime`` (WebSocket: ``?model=``, ``?call_id=`` sideband, ``?intent=
    transcription``) and ``POST /v1/realtime?model=`` (beta WebRTC SDP)."""

    state: ServiceState

    def initialize(self, state: ServiceState, azure: str | None = None) -> None:
        self.state = state
        self.azure = azure
        self.principal: Principal | None = None
        self.session: LocalSession | None = None
        self.dialect = Dialect.GA
        self.offered: list[str] = []
        self.counted = False
        self.sideband: _WsTransport | None = None

    @property
    def max_message_size(self) -> int:
        return MAX_WS_MESSAGE

    def check_origin(self, origin: str) -> bool:
        return super().check_origin(origin) or origin_allowed(self, self.state)

    def prepare(self) -> None:
        if self.request.method != "GET":  # the beta SDP POST and its preflight, not upgrades
            _cors_headers(self, self.state)
            if (
                self.request.method == "POST"
                and self.state.cors
                and not origin_allowed(self, self.state)
            ):
                _refuse_origin(self)

    def options(self, *args: Any) -> None:
        """CORS preflight of the beta WebRTC ``POST /v1/realtime?model=`` from a web page."""
        self.set_status(204)
        self.finish()

    def check_xsrf_cookie(self) -> None:
        return None

    def _request_summary(self) -> str:  # what tornado's access log shows: no key from the URL
        return _request_summary(self)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        _log_exception(self, typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors tornado raises itself (the beta SDP POST's body...) as JSON."""
        _json_error(self, status_code)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "realtime" if "realtime" in subprotocols else None

    def _offered(self) -> list[str]:
        header = self.request.headers.get("Sec-WebSocket-Protocol", "")
        return [p.strip() for p in header.split(",") if p.strip()]

    def model_argument(self) -> str | None:
        """The requested model: ``?model=``, or on Azure's preview API ``?deployment=``."""
        name = "deployment" if self.azure == "preview" else "model"
        return self.get_query_argument(name, None)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.azure == "rtc":  # the regional WebRTC URL takes SDP offers only
            self.set_status(405)
            _json_error(self, 405)
            return
        refusal = _azure_refusal(self, self.state, self.azure, self.model_argument())
        if refusal is not None:
            _rest_error(self, refusal[0], refusal[1], code=refusal[2])
            return
        offered = self._offered()
        offered_key = None
        for proto in offered:
            if proto.startswith(_KEY_SUBPROTOCOL):
                offered_key = proto[len(_KEY_SUBPROTOCOL) :]
        beta = (
            self.request.headers.get("OpenAI-Beta", "").replace(" ", "").lower() == "realtime=v1"
            or _BETA_SUBPROTOCOL in offered
            or self.state.ga_shape_disabled
        )
        call_id = self.get_query_argument("call_id", None)
        origin = self.request.headers.get("Origin")
        if origin is not None and not self.check_origin(origin):  # before a key is spent
            _refuse_origin(self)
            return
        try:
            _check_fault_keys(self.state)
            key = _credential(self, self.azure, query=True, subprotocol=offered_key)
            principal = self.state.keys.authenticate(
                key, allow_standard=self.state.allow_standard_keys, opening=call_id is None
            )
            if call_id is None:
                self.state.keys.open_session(principal)
                self.counted = True
        except AuthError as exc:
            self.set_status(exc.status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(exc.to_json()))
            return
        call = self.state.calls.get(call_id) if call_id is not None else None
        if call_id is not None and (call is None or not principal.controls(call.principal)):
            self.set_status(404)
            self.finish(
                json.dumps(
                    {
                        "error": {
                            "message": f"Call '{call_id}' not found.",
                            "type": "invalid_request_error",
                            "param": "call_id",
                            "code": "not_found",
                        }
                    }
                )
            )
            return
        self.principal = principal
        if (
            principal.ephemeral is not None
            and not beta
            and not self.request.headers.get("OpenAI-Beta")
        ):
            beta = principal.ephemeral.dialect is Dialect.BETA and _BETA_SUBPROTOCOL in offered
        self.dialect = Dialect.BETA if beta else Dialect.GA
        await super().get(*args, **kwargs)
        if self.ws_connection is None and self.counted:
            self.state.keys.close_session(principal)
            self.counted = False

    def open(self, *args: Any, **kwargs: Any) -> None:
        assert self.principal is not None
        self.set_nodelay(True)
        if self.dialect is Dialect.BETA and self.state.beta_shape_disabled:
            self.write_message(
                json.dumps(
                    {
                        "type": "error",
                        "event_id": None,
                        "error": {
                            "type": "invalid_request_error",
                            "code": "beta_api_shape_disabled",
                            "message": "The Realtime Beta API is no longer supported. Please use "
                            "/v1/realtime for the GA API.",
                            "param": None,
                            "event_id": None,
                        },
                    }
                )
            )
            self.close(4000, "beta_api_shape_disabled")
            return
        call_id = self.get_query_argument("call_id", None)
        if call_id is not None:
            call = self.state.calls[call_id]
            self.session = call.session
            self.sideband = _WsTransport(self)
            call.add_sideband(self.sideband)
            return
        transcription = self.get_query_argument("intent", "") == "transcription"
        config = self.state.session_config(
            self.principal,
            model=self.model_argument(),
            transcription=transcription,
            dialect=self.dialect,
        )
        transport = FaultyTransport(
            _WsTransport(self), functools.partial(getattr, self.state, "faults")
        )
        session = LocalSession(
            transport,
            dialect=self.dialect,
            session=config,
            engines=self.state.engines,
            options=SessionOptions(
                max_duration_s=self.state.max_session_s[self.dialect],
                executor=self.state.executor,
            ),
        )
        transport.attach(session)
        self.session = session
        self.state.sessions.add(session)
        if self.state.on_session is not None:
            self.state.on_session(session)
        session.start()

    def on_message(self, message: str | bytes) -> None:
        if self.session is not None:
            self.session.receive(message)

    def on_close(self) -> None:
        session = self.session
        if session is not None:
            call_id = self.get_query_argument("call_id", None)
            if call_id is None:
                self.state.sessions.discard(session)
                session.transport_closed()
            elif call_id in self.state.calls and self.sideband is not None:
                self.state.calls[call_id].remove_sideband(self.sideband)
        # the session's transport points back at this handler: without this, every closed
        # session (its conversation audio included) would wait for the cyclic GC's rare full
        # collections (the service's RSS rose ~180 MiB over the first 400 s of a soak)
        self.session = None
        self.sideband = None
        if self.counted and self.principal is not None:
            self.state.keys.close_session(self.principal)
            self.counted = False

    async def post(self) -> None:
        """Beta WebRTC: ``POST /v1/realtime?model=…`` (Azure preview: ``POST
        /v1/realtimertc?model=…``, ephemeral keys only) with ``application/sdp``."""
        handler = _SdpShim(self)
        model = self.get_query_argument("model", None)
        if self.azure in ("v1", "preview"):  # Azure takes offers at …/calls or the regional URL
            _rest_error(self, 405, "Send WebRTC offers to the WebRTC URL.", code="not_found")
            return
        refusal = _azure_refusal(self, self.state, self.azure, model)
        if refusal is not None:
            _rest_error(self, refusal[0], refusal[1], code=refusal[2])
            return
        principal = handler.authenticate(allow_standard=self.azure != "rtc")
        if principal is None:
            return
        offer = self.request.body.decode("utf-8", "replace")
        await answer_offer(
            handler,  # type: ignore[arg-type]
            principal,
            offer,
            Dialect.BETA,
            None,
            model=model,
        )


class _SdpShim:
    """Lets the WebSocket handler answer a plain POST with the REST helpers."""

    def __init__(self, handler: RealtimeHandler) -> None:
        self._h = handler
        self.state = handler.state
        self.request = handler.request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._h, name)

    def authenticate(self, *, allow_standard: bool = True) -> Principal | None:
        return _Base.authenticate(self, allow_standard=allow_standard)  # type: ignore[arg-type]

    def protocol_error(self, exc: ProtocolError) -> None:
        _rest_error(self._h, 400, exc.message, code=exc.code, param=exc.param)


def make_handlers(state: ServiceState, prefix: str = "") -> list[tuple[str, Any, dict[str, Any]]]:
    """The service's routes under ``prefix`` (e.g. ``/rt-jupyter/local``): OpenAI's, and Azure
    OpenAI's v1 and preview layouts (:mod:`rt_jupyter.protocol.providers`)."""
    p = prefix.rstrip("/")
    kw = {"state": state}
    v1: dict[str, Any] = {"state": state, "azure": "v1"}
    preview: dict[str, Any] = {"state": state, "azure": "preview"}
    return [
        (rf"{p}/openai/v1/realtime/client_secrets", ClientSecretsHandler, v1),
        (rf"{p}/openai/v1/realtime/calls", CallsHandler, v1),
        (
            rf"{p}/openai/v1/realtime/calls/([^/]+)/(hangup|accept|reject|refer)",
            CallControlHandler,
            v1,
        ),
        (rf"{p}/openai/v1/realtime", RealtimeHandler, v1),
        (rf"{p}/openai/realtimeapi/sessions", BetaSessionsHandler, preview),
        (rf"{p}/openai/realtime", RealtimeHandler, preview),
        (rf"{p}/v1/realtimertc", RealtimeHandler, {"state": state, "azure": "rtc"}),
        (rf"{p}/v1/realtime/client_secrets", ClientSecretsHandler, kw),
        (rf"{p}/v1/realtime/sessions", BetaSessionsHandler, kw),
        (
            rf"{p}/v1/realtime/transcription_sessions",
            BetaSessionsHandler,
            {"state": state, "transcription": True},
        ),
        (rf"{p}/v1/realtime/calls", CallsHandler, kw),
        (rf"{p}/v1/realtime/calls/([^/]+)/(hangup|accept|reject|refer)", CallControlHandler, kw),
        (rf"{p}/v1/realtime", RealtimeHandler, kw),
        (rf"{p}/health", HealthHandler, kw),
    ]
