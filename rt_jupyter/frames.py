"""Sessions as data: pandas frames from an :class:`~rt_jupyter.log.EventLog`.

The same frames for kernel sessions and widgets, in both dialects (one normalized vocabulary):

* :func:`events` — one row per event (``EventLog.to_frame``).
* :func:`responses` — one row per response: timing, status, text, audio, tokens.
* :func:`turns` — one row per user turn: speech start/end, commit, the response it got, latencies
  (end of speech → first audio...), interruption and truncation, tool calls.
* :func:`transcript` — who said what, when.
* :func:`usage` — tokens by text/audio/cached per response, and cost from a price table.

Only the events a frame needs are decoded, so a million-event log builds in seconds.
"""

from __future__ import annotations

import functools
import json
import math
import re
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .core.code import code_blocks
from .log import paused_gc
from .protocol.formats import BETA_NAMES, BYTES_PER_MS, PCM16

if TYPE_CHECKING:
    import pandas as pd

    from .log import EventLog

__all__ = [
    "PRICES",
    "PROVIDER_PRICES",
    "PriceWarning",
    "code_blocks",
    "events",
    "latency",
    "responses",
    "transcript",
    "turns",
    "usage",
]

_RESPONSE_ID = re.compile(r'"response_id":"([^"]+)"')

#: OpenAI's list prices: USD per million tokens, by model prefix (the longest matching prefix
#: wins). Override with ``usage(log, prices={...})``; the local service's estimates use these rows.
PRICES: dict[str, dict[str, float]] = {
    "gpt-realtime": {
        "text_in": 4.00, "cached_text_in": 0.40, "audio_in": 32.00, "cached_audio_in": 0.40,
        "image_in": 5.00, "text_out": 16.00, "audio_out": 64.00,
    },
    "gpt-realtime-mini": {
        "text_in": 0.60, "cached_text_in": 0.06, "audio_in": 10.00, "cached_audio_in": 0.30,
        "image_in": 0.80, "text_out": 2.40, "audio_out": 20.00,
    },
    "gpt-4o-realtime-preview": {
        "text_in": 5.00, "cached_text_in": 2.50, "audio_in": 40.00, "cached_audio_in": 2.50,
        "image_in": 5.00, "text_out": 20.00, "audio_out": 80.00,
    },
}  # fmt: skip

#: Price tables by provider name (``Provider.name``), each by *model* prefix. Azure OpenAI: OpenAI's
#: rows for the same models, reused: Azure's own price sheet was not available to check, and Azure
#: bills from its own meters (the portal's metrics), which can differ from ``response.done``'s
#: usage. A gateway has no table: it is priced with OpenAI's rows and the rows say it is a guess.
#: ``local`` (the offline service) is priced as OpenAI would price the same tokens.
PROVIDER_PRICES: dict[str, dict[str, dict[str, float]]] = {
    "openai": PRICES,
    "local": PRICES,
    "azure": {model: dict(row) for model, row in PRICES.items()},
}


class PriceWarning(UserWarning):
    """A cost in :func:`usage` is a guess, or could not be priced (the message says how to fix
    it: ``deployments=``, ``model=`` or ``prices=``)."""


F = TypeVar("F", bound=Callable[..., Any])
_decode = json.JSONDecoder().raw_decode  # json.loads without its wrapper


def _gc_paused(fn: F) -> F:
    """Build the frame with the cyclic GC paused (see :func:`rt_jupyter.log.paused_gc`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with paused_gc():
            return fn(*args, **kwargs)

    return cast(F, wrapper)


#: Per log, what was derived from its first n events: ``{name: (n, value)}``. The log only
#: grows, so a value is reused while ``len(log)`` is unchanged (``latency`` after ``turns`` and
#: ``responses``, a plot after its frames, the second look at a frame in a notebook).
_DERIVED: weakref.WeakKeyDictionary[EventLog, dict[str, tuple[int, Any]]] = (
    weakref.WeakKeyDictionary()
)


def _per_length(fn: F) -> F:
    """Reuse ``fn(log)`` while the log has the same length. A DataFrame is handed out as a
    copy, so a caller that changes it does not change the next caller's."""

    @functools.wraps(fn)
    def wrapper(log: EventLog) -> Any:
        n = len(log)  # before fn's own snapshot: never more events than fn saw
        derived = _DERIVED.setdefault(log, {})
        hit = derived.get(fn.__name__)
        if hit is None or hit[0] != n:
            hit = derived[fn.__name__] = (n, fn(log))
        import pandas as pd

        value = hit[1]
        return value.copy() if isinstance(value, pd.DataFrame) else value

    return cast(F, wrapper)


def events(log: EventLog) -> pd.DataFrame:
    """One row per event (see :meth:`EventLog.to_frame`)."""
    return log.to_frame()


def _rows(log: EventLog, kinds: set[str]) -> Iterable[tuple[int, float, str, dict[str, Any]]]:
    """(index, t, kind, event) for events of the given kinds, decoding only those."""
    codes = {i for i, k in enumerate(log.kinds) if k in kinds}
    n = len(log)  # a snapshot: another thread may be logging meanwhile
    t0 = log.t[0] if n else 0.0
    for i, code in enumerate(log.kind_codes[:n]):
        if code in codes:
            yield i, log.t[i] - t0, log.kinds[code], _decode(log.payloads[i])[0]


@_per_length
def _first_deltas(log: EventLog) -> tuple[dict[str, float], dict[str, float]]:
    """Time of the first text and first audio delta of each response (regex, no JSON)."""
    text_kinds = {"response.output_text.delta", "response.output_audio_transcript.delta"}
    text_codes = {i for i, k in enumerate(log.kinds) if k in text_kinds}
    audio_codes = {i for i, k in enumerate(log.kinds) if k == "response.output_audio.delta"}
    n = len(log)
    t0 = log.t[0] if n else 0.0
    first_text: dict[str, float] = {}
    first_audio: dict[str, float] = {}
    for i, code in enumerate(log.kind_codes[:n]):
        if code in text_codes or code in audio_codes:
            match = _RESPONSE_ID.search(log.payloads[i], 0, 300)
            if match is None:
                continue
            target = first_text if code in text_codes else first_audio
            target.setdefault(match.group(1), log.t[i] - t0)
    return first_text, first_audio


def _response_text(response: Mapping[str, Any]) -> str:
    parts = []
    for item in response.get("output") or []:
        for part in item.get("content") or []:
            value = part.get("text") if "text" in part else part.get("transcript")
            if value:
                parts.append(str(value))
    return " ".join(parts)


@_per_length
@_gc_paused
def responses(log: EventLog) -> pd.DataFrame:
    """One row per response: ``response_id``, ``created``/``done`` (s), ``status``, ``reason``,
    ``first_text``/``first_audio`` (s), ``ttft_ms``/``ttfa_ms`` (from created), ``text``,
    ``audio_ms``, ``tool_calls``, ``input_tokens``, ``output_tokens``, ``conversation``."""
    import pandas as pd

    first_text, first_audio = _first_deltas(log)
    audio_bytes: dict[str, int] = {}
    audio_code = {i for i, k in enumerate(log.kinds) if k == "response.output_audio.delta"}
    for i, code in enumerate(log.kind_codes[: len(log)]):
        if code in audio_code:
            match = _RESPONSE_ID.search(log.payloads[i], 0, 300)
            if match:
                audio_bytes[match.group(1)] = (
                    audio_bytes.get(match.group(1), 0) + (log.audio_sizes[i])
                )
    rows: dict[str, dict[str, Any]] = {}
    bytes_per_ms = float(PCM16.bytes_per_ms)
    for _, t, kind, ev in _rows(
        log, {"response.created", "response.done", "session.created", "session.updated"}
    ):
        if kind.startswith("session."):
            fmt = _output_format(ev.get("session") or {})
            bytes_per_ms = float(BYTES_PER_MS.get(fmt, PCM16.bytes_per_ms))
            continue
        response = ev.get("response") or {}
        rid = str(response.get("id"))
        row = rows.setdefault(rid, {"response_id": rid, "created": t})
        if kind == "response.done":
            usage = response.get("usage") or {}
            details = response.get("status_details") or {}
            outputs = response.get("output") or []
            row.update(
                done=t,
                status=response.get("status"),
                reason=details.get("reason"),
                text=_response_text(response),
                tool_calls=[o.get("name") for o in outputs if o.get("type") == "function_call"],
                input_tokens=usage.get("input_tokens"),
                output_tokens=usage.get("output_tokens"),
                conversation=response.get("conversation_id") is not None,
            )
        row["audio_ms"] = audio_bytes.get(rid, 0) / bytes_per_ms
    columns = [
        "response_id", "created", "done", "status", "reason", "first_text", "first_audio",
        "ttft_ms", "ttfa_ms", "duration_ms", "text", "audio_ms", "tool_calls",
        "input_tokens", "output_tokens", "conversation",
    ]  # fmt: skip
    for rid, row in rows.items():
        row["first_text"] = first_text.get(rid)
        row["first_audio"] = first_audio.get(rid)
        created = row["created"]
        row["ttft_ms"] = _ms(row["first_text"], created)
        row["ttfa_ms"] = _ms(row["first_audio"], created)
        row["duration_ms"] = _ms(row.get("done"), created)
    return pd.DataFrame(list(rows.values()), columns=columns)


def _ms(t: float | None, since: float | None) -> float | None:
    return None if t is None or since is None else round((t - since) * 1000, 1)


def _output_format(session: Mapping[str, Any]) -> str:
    audio = session.get("audio")
    if isinstance(audio, Mapping):
        fmt = ((audio.get("output") or {}).get("format") or {}).get("type")
        return BETA_NAMES.get(str(fmt), PCM16.name)
    return str(session.get("output_audio_format") or PCM16.name)


_TURN_KINDS = {
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "input_audio_buffer.timeout_triggered",
    "conversation.item.added",
    "conversation.item.create",
    "conversation.item.input_audio_transcription.completed",
    "response.created",
    "response.done",
    "conversation.item.truncated",
    "output_audio_buffer.cleared",
}


@_per_length
@_gc_paused
def turns(log: EventLog) -> pd.DataFrame:
    """One row per user turn (spoken or typed), with the response it got.

    Columns: ``item_id``, ``kind`` (``speech``/``text``), ``speech_start``/``speech_end`` (s),
    ``audio_start_ms``/``audio_end_ms`` (input audio clock), ``committed``, ``transcript``,
    ``response_id``, ``response_created``, ``first_text``, ``first_audio``, ``done``, ``status``,
    ``interrupted`` (the response was cut by the next turn), ``truncated_ms``, ``tool_calls`` and
    latencies ``speech_end_to_first_audio_ms``, ``speech_end_to_response_ms``,
    ``request_to_first_audio_ms`` (typed turns: item sent → first audio/text).
    """
    import pandas as pd

    first_text, first_audio = _first_deltas(log)
    rows: list[dict[str, Any]] = []
    by_item: dict[str, dict[str, Any]] = {}
    pending_turn: dict[str, Any] | None = None
    by_response: dict[str, dict[str, Any]] = {}
    item_response: dict[str, str] = {}  # assistant item -> response
    row: Any
    for index, t, kind, ev in _rows(log, _TURN_KINDS):
        direction = log.direction[index]
        if kind == "input_audio_buffer.speech_started":
            row = {
                "item_id": ev.get("item_id"),
                "kind": "speech",
                "speech_start": t,
                "audio_start_ms": ev.get("audio_start_ms"),
            }
            by_item[str(ev.get("item_id"))] = row
            rows.append(row)
        elif kind == "input_audio_buffer.speech_stopped":
            row = by_item.get(str(ev.get("item_id"))) or {}
            row.update(speech_end=t, audio_end_ms=ev.get("audio_end_ms"))
        elif kind == "input_audio_buffer.timeout_triggered":
            row = {
                "item_id": ev.get("item_id"),
                "kind": "timeout",
                "speech_end": t,
                "audio_start_ms": ev.get("audio_start_ms"),
                "audio_end_ms": ev.get("audio_end_ms"),
            }
            by_item[str(ev.get("item_id"))] = row
            rows.append(row)
        elif kind == "input_audio_buffer.committed":
            item_id = str(ev.get("item_id"))
            row = by_item.get(item_id)
            if row is None:  # a manual commit
                row = {"item_id": item_id, "kind": "audio"}
                by_item[item_id] = row
                rows.append(row)
            row["committed"] = t
            pending_turn = row
        elif kind == "conversation.item.create" and direction == 1:  # sent by us
            item = ev.get("item") or {}
            if item.get("role") == "user":
                text = " ".join(
                    str(p.get("text")) for p in item.get("content") or [] if p.get("text")
                )
                row = {
                    "item_id": item.get("id"),
                    "kind": "text",
                    "transcript": text,
                    "committed": t,
                }
                if item.get("id"):
                    by_item[str(item["id"])] = row
                rows.append(row)
                pending_turn = row
        elif kind == "conversation.item.input_audio_transcription.completed":
            row = by_item.get(str(ev.get("item_id")))
            if row is not None:
                row["transcript"] = ev.get("transcript")
        elif kind == "response.created":
            response = ev.get("response") or {}
            if response.get("conversation_id", "x") is None:
                continue  # out-of-band: not a turn's answer
            rid = str(response.get("id"))
            if pending_turn is not None and "response_id" not in pending_turn:
                pending_turn.update(response_id=rid, response_created=t)
                by_response[rid] = pending_turn
        elif kind == "response.done":
            response = ev.get("response") or {}
            rid = str(response.get("id"))
            row = by_response.get(rid)
            if row is None:
                # a tool follow-up belongs to the turn that started the chain
                continue
            details = response.get("status_details") or {}
            outputs = response.get("output") or []
            row.update(
                done=t,
                status=response.get("status"),
                interrupted=details.get("reason") == "turn_detected",
            )
            calls = [o.get("name") for o in outputs if o.get("type") == "function_call"]
            row.setdefault("tool_calls", []).extend(calls)
            for out in outputs:
                item_response[str(out.get("id"))] = rid
            if calls:
                pending_turn = row  # the follow-up response answers the same turn
                row.pop("response_id", None)
                by_response.pop(rid, None)
                row.setdefault("_responses", []).append(rid)
                row["_first"] = row.get("_first") or rid
        elif kind == "conversation.item.truncated":
            row = by_response.get(item_response.get(str(ev.get("item_id")), ""))
            if row is not None:
                row["truncated_ms"] = ev.get("audio_end_ms")
    for row in rows:
        rid = row.get("response_id")
        if rid is None and row.get("_responses"):
            rid = row["_responses"][-1]
            row["response_id"] = rid
        chain = [*row.pop("_responses", []), *([rid] if rid else [])]
        row.pop("_first", None)
        texts = [first_text[r] for r in chain if r in first_text]
        audios = [first_audio[r] for r in chain if r in first_audio]
        row["first_text"] = min(texts) if texts else None
        row["first_audio"] = min(audios) if audios else None
        end = row.get("speech_end")
        row["speech_end_to_first_audio_ms"] = _ms(row["first_audio"], end)
        row["speech_end_to_response_ms"] = _ms(row.get("response_created"), end)
        start = row.get("committed") if row.get("kind") == "text" else None
        first_any = row["first_audio"] if row["first_audio"] is not None else row["first_text"]
        row["request_to_first_audio_ms"] = _ms(first_any, start)
        row.setdefault("interrupted", False)
        row.setdefault("tool_calls", [])
    columns = [
        "item_id", "kind", "speech_start", "speech_end", "audio_start_ms", "audio_end_ms",
        "committed", "transcript", "response_id", "response_created", "first_text",
        "first_audio", "done", "status", "interrupted", "truncated_ms", "tool_calls",
        "speech_end_to_first_audio_ms", "speech_end_to_response_ms", "request_to_first_audio_ms",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


@_gc_paused
def transcript(log: EventLog) -> pd.DataFrame:
    """Who said what, when: ``t`` (s), ``role`` (``user``/``assistant``), ``text``,
    ``item_id``, ``source`` (``typed``, ``transcription``, ``response``), ``truncated`` (the
    assistant's speech was cut)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    truncated: set[str] = set()
    for index, t, kind, ev in _rows(
        log,
        {
            "conversation.item.create",
            "conversation.item.input_audio_transcription.completed",
            "response.output_item.done",
            "conversation.item.truncated",
        },
    ):
        if kind == "conversation.item.create" and log.direction[index] == 1:
            item = ev.get("item") or {}
            text = " ".join(str(p.get("text")) for p in item.get("content") or [] if p.get("text"))
            if text and item.get("role") in ("user", "system"):
                rows.append(
                    {
                        "t": t,
                        "role": item.get("role"),
                        "text": text,
                        "item_id": item.get("id"),
                        "source": "typed",
                    }
                )
        elif kind == "conversation.item.input_audio_transcription.completed":
            rows.append(
                {
                    "t": t,
                    "role": "user",
                    "text": ev.get("transcript"),
                    "item_id": ev.get("item_id"),
                    "source": "transcription",
                }
            )
        elif kind == "response.output_item.done":
            item = ev.get("item") or {}
            if item.get("type") == "message" and item.get("role") == "assistant":
                text = _response_text({"output": [item]})
                if text:
                    rows.append(
                        {
                            "t": t,
                            "role": "assistant",
                            "text": text,
                            "item_id": item.get("id"),
                            "source": "response",
                        }
                    )
        elif kind == "conversation.item.truncated":
            truncated.add(str(ev.get("item_id")))
    frame = pd.DataFrame(rows, columns=["t", "role", "text", "item_id", "source"])
    frame["truncated"] = frame["item_id"].isin(truncated)
    return frame


def _best_prefix(model: str, prices: Mapping[str, Mapping[str, float]]) -> str | None:
    best = ""
    for prefix in prices:
        if model.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return best or None


def _price_row(model: str, prices: Mapping[str, Mapping[str, float]]) -> Mapping[str, float]:
    best = _best_prefix(model, prices)
    return prices.get(best or "") or prices.get("gpt-realtime") or {}


_Pricing = tuple[Mapping[str, float] | None, str | None, str | None]  # row, priced as, doubt


def _pricing(
    provider: str,
    name: str,
    runs: str | None,
    user: Mapping[str, Mapping[str, float]],
) -> _Pricing:
    """The price row for a session of ``name`` (the model, or on Azure the deployment, as the
    log names it) at ``provider``, the model it is priced as, and why the price is a guess
    (``None``: not a guess). ``runs``: the model behind ``name``, when known."""
    own = PROVIDER_PRICES.get(provider, PRICES)
    table = {**own, **user}
    fix = "say which model it runs: usage(log, deployments={...}) or the provider's 'deployments'"
    if not runs:
        mine = _best_prefix(name, user)
        if mine is not None:  # the caller priced this very name
            return user[mine], mine, None
    if provider == "azure" and not runs:
        guess = _best_prefix(name, own)
        if guess is None:
            why = f"Azure deployment {name!r} runs an unknown model: not priced; {fix}"
            return None, None, why
        why = f"Azure deployment {name!r} priced as {guess!r} by its name; {fix}"
        return own[guess], guess, why
    model = runs or name
    key = _best_prefix(model, table)
    if key is None:
        why = f"model {model!r} at {provider!r} has no price row: priced as 'gpt-realtime'"
        return _price_row(model, table), "gpt-realtime", why + "; pass prices={...}"
    if provider not in PROVIDER_PRICES and key not in user:
        why = f"{provider!r} priced with OpenAI's list price for {key!r} (a gateway's own prices"
        return table[key], key, why + " are its own); pass prices={...}"
    return table[key], key, None


def _provider_note(kind: str, event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The provider fields of an ``rt.provider`` note or a widget's ``rt.call_started``."""
    if kind == "rt.provider":
        return event
    fields = event.get("provider")
    return fields if isinstance(fields, Mapping) else None


@_gc_paused
def usage(
    log: EventLog,
    *,
    model: str | None = None,
    prices: Mapping[str, Mapping[str, float]] | None = None,
    provider: Any = None,
    deployments: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Tokens per response (text/audio/image/cached in, text/audio out) and cost in USD, at the
    prices of the provider that served the session.

    The provider is the one the log recorded (the kernel client's ``rt.provider`` note, the
    widget's ``rt.call_started``), else ``provider`` (a name or a
    :class:`~rt_jupyter.protocol.providers.Provider`), else OpenAI (logs from before providers
    were recorded). Prices come from :data:`PROVIDER_PRICES` for that provider, overridden by
    ``prices`` (USD per million tokens, keyed by model prefix, or by deployment name).

    On Azure the session's "model" is the deployment's name, whatever its owner chose: the model
    it runs comes from ``deployments`` (``{"my-rt": "gpt-realtime"}``), the provider's
    ``deployments`` as the log recorded them, or ``model`` (the model every response is priced
    as). A deployment none of these names is priced from its name when its name starts with a
    model's (a guess), and otherwise not at all (``cost_usd`` is NaN): never silently as another
    model.

    Columns: ``response_id``, ``t``, ``status``, ``provider``, ``model`` (as the session named
    it: the deployment on Azure), the token counts, ``total``, ``cost_usd``, ``priced_as`` (the
    price row's model, ``None`` if unpriced) and ``price_guessed`` (the price is a guess or
    missing: a gateway, a deployment priced by its name, an unknown model). Each guess is also
    a :class:`PriceWarning`.
    """
    import pandas as pd

    user = dict(prices or {})
    names = dict(deployments or {})
    given_provider = provider if isinstance(provider, str) else getattr(provider, "name", None)
    if provider is not None and not isinstance(provider, str):
        names = {**dict(getattr(provider, "deployments", ()) or ()), **names}
    logged_provider: str | None = None
    logged_model: str | None = None
    logged_runs: str | None = None
    rows = []
    doubts: dict[str, None] = {}
    session_model: str | None = None
    kinds = {
        "session.created",
        "session.updated",
        "response.done",
        "rt.provider",
        "rt.call_started",
    }
    for _, t, kind, ev in _rows(log, kinds):
        if kind.startswith("rt."):
            note = _provider_note(kind, ev)
            if note is not None and note.get("name"):
                logged_provider = str(note["name"])
                logged_model = str(note.get("model") or "") or None
                logged_runs = str(note.get("runs") or "") or None
            continue
        if kind.startswith("session."):
            session_model = str((ev.get("session") or {}).get("model") or "") or session_model
            continue
        served_by = logged_provider or given_provider or "openai"
        name = session_model or logged_model or "gpt-realtime"
        runs = model or names.get(name) or names.get(logged_model or "") or logged_runs
        p, priced_as, doubt = _pricing(served_by, name, runs, user)
        if doubt is not None:
            doubts.setdefault(doubt)
        response = ev.get("response") or {}
        u = response.get("usage") or {}
        inp = u.get("input_token_details") or {}
        out = u.get("output_token_details") or {}
        cached = inp.get("cached_tokens_details") or {}
        cached_text = int(cached.get("text_tokens") or 0)
        cached_audio = int(cached.get("audio_tokens") or 0)
        row: dict[str, Any] = {
            "response_id": response.get("id"),
            "t": t,
            "status": response.get("status"),
            "provider": served_by,
            "model": name,
            "text_in": int(inp.get("text_tokens") or 0),
            "audio_in": int(inp.get("audio_tokens") or 0),
            "image_in": int(inp.get("image_tokens") or 0),
            "cached_in": int(inp.get("cached_tokens") or 0),
            "text_out": int(out.get("text_tokens") or 0),
            "audio_out": int(out.get("audio_tokens") or 0),
            "total": int(u.get("total_tokens") or 0),
        }
        if p is None:
            row["cost_usd"] = math.nan
        else:
            cost = (
                (row["text_in"] - cached_text) * p.get("text_in", 0)
                + cached_text * p.get("cached_text_in", 0)
                + (row["audio_in"] - cached_audio) * p.get("audio_in", 0)
                + cached_audio * p.get("cached_audio_in", 0)
                + row["image_in"] * p.get("image_in", 0)
                + row["text_out"] * p.get("text_out", 0)
                + row["audio_out"] * p.get("audio_out", 0)
            ) / 1_000_000
            row["cost_usd"] = round(cost, 6)
        row["priced_as"] = priced_as
        row["price_guessed"] = doubt is not None
        rows.append(row)
    for doubt in doubts:
        warnings.warn(doubt, PriceWarning, stacklevel=3)
    columns = [
        "response_id", "t", "status", "provider", "model", "text_in", "audio_in", "image_in",
        "cached_in", "text_out", "audio_out", "total", "cost_usd", "priced_as", "price_guessed",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


@_gc_paused
def latency(log: EventLog) -> pd.DataFrame:
    """Latency summary (p50/p90/p99/max in ms) of the turn and response latency columns."""
    import pandas as pd

    by_turn, by_response = turns(log), responses(log)
    frames = {
        "end of speech → first audio": by_turn["speech_end_to_first_audio_ms"],
        "end of speech → response.created": by_turn["speech_end_to_response_ms"],
        "request → first audio/text": by_turn["request_to_first_audio_ms"],
        "response.created → first text": by_response["ttft_ms"],
        "response.created → first audio": by_response["ttfa_ms"],
    }
    rows = []
    for name, series in frames.items():
        values = pd.to_numeric(series, errors="coerce").dropna()
        if values.empty:
            continue
        rows.append(
            {
                "latency": name,
                "n": len(values),
                "p50_ms": values.quantile(0.5),
                "p90_ms": values.quantile(0.9),
                "p99_ms": values.quantile(0.99),
                "max_ms": values.max(),
            }
        )
    return pd.DataFrame(rows, columns=["latency", "n", "p50_ms", "p90_ms", "p99_ms", "max_ms"])
