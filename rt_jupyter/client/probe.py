"""``dialect="auto"``: find out which shape a provider's WebSocket speaks (GA first, then beta)
by opening a session in each and reading its ``session.created``
(:func:`~rt_jupyter.protocol.providers.session_shape` says which shape it is)."""

from __future__ import annotations

import asyncio
import json

from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..config import Settings
from ..errors import ProviderShapeError
from ..protocol import Dialect
from ..protocol.errors import bounded
from ..protocol.providers import session_shape

__all__ = ["find_dialect"]


async def _answer(settings: Settings, dialect: Dialect, key: str, timeout: float) -> str:
    """What the service answered a ``dialect`` connection: ``"ok"`` when its ``session.created``
    is in that shape, else a short description."""
    from .session import open_websocket, refused

    url = settings.service.websocket_url(dialect, settings.chosen(dialect).model)
    try:
        ws = await open_websocket(settings, dialect, url, key)
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise refused(settings, status, exc.response.reason_phrase) from None
        return f"HTTP {status}"
    except (OSError, TimeoutError) as exc:
        return type(exc).__name__
    try:
        raw = await asyncio.wait_for(ws.recv(), timeout)
        event = json.loads(raw)
    except (TimeoutError, ConnectionClosed, ValueError) as exc:
        return f"no session.created ({type(exc).__name__})"
    finally:
        await ws.close()
    if not isinstance(event, dict):
        return "not an event"
    if event.get("type") == "error":
        error = event.get("error") or {}
        return bounded(f"error {error.get('code')}: {error.get('message')}", [key], 160)
    if event.get("type") != "session.created":
        return f"first event {str(event.get('type'))[:60]!r}"
    shape = session_shape(event.get("session") or {})
    if shape is dialect:
        return "ok"
    return f"a session in the {shape.value} shape" if shape else "a session in neither shape"


async def find_dialect(settings: Settings, key: str, *, timeout: float = 20.0) -> Dialect:
    """The dialect ``settings``' provider speaks: GA if a GA connection gets a GA
    ``session.created``, else beta if a beta one gets a beta one; else
    :class:`~rt_jupyter.errors.ProviderShapeError` saying what each answered."""
    answers = []
    for dialect in (Dialect.GA, Dialect.BETA):
        try:
            settings.service.check_dialect(dialect)
        except ValueError:
            continue
        answer = await _answer(settings, dialect, key, timeout)
        if answer == "ok":
            return dialect
        answers.append(f"{dialect.value}: {answer}")
    raise ProviderShapeError(
        f"{settings.service.host} answered neither the GA nor the beta realtime shape "
        f"({'; '.join(answers)}). Check the base URL (it should end where /realtime starts, "
        "e.g. https://HOST/v1), or pass dialect='ga' or 'beta' if you know it."
    )
