"""Session settings as keyword arguments, the same for both front doors.

The keywords follow the GA session shape: a top-level GA field keeps its name
(``output_modalities``, ``instructions``, ``tools``...); a field under ``audio.input`` or
``audio.output`` keeps its leaf name when that is unambiguous (``voice``, ``speed``,
``turn_detection``, ``noise_reduction``) and is prefixed with its direction otherwise
(``audio.input.transcription`` -> ``input_transcription``, ``audio.input.format`` ->
``input_format``, ``audio.output.format`` -> ``output_format``). The beta-style names
(``modalities``, ``input_audio_transcription``, ``input_audio_format``,
``output_audio_format``) still work for one release, with a ``DeprecationWarning``.

:func:`session_settings` turns them into a validated partial GA session and raises
:class:`~rt_jupyter.errors.ConfigurationError` (a ``ValueError``) that names the keyword and
what to use instead.
"""

from __future__ import annotations

import difflib
import inspect
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ..errors import ConfigurationError
from ..protocol.session import session_update

__all__ = [
    "DEPRECATED_SETTINGS",
    "SESSION_SETTINGS",
    "canonical_settings",
    "deprecated",
    "did_you_mean",
    "session_settings",
]

#: Deprecated keyword -> canonical keyword (removed in the next release).
DEPRECATED_SETTINGS: Final[Mapping[str, str]] = {
    "modalities": "output_modalities",
    "input_audio_transcription": "input_transcription",
    "input_audio_format": "input_format",
    "output_audio_format": "output_format",
}
_TO_BUILDER: Final = {new: old for old, new in DEPRECATED_SETTINGS.items()}

#: The canonical session-setting keywords (``session_type`` is set by the front door).
SESSION_SETTINGS: Final = tuple(
    DEPRECATED_SETTINGS.get(name, name)
    for name in inspect.signature(session_update).parameters
    if name != "session_type"
)


def deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (one ``DeprecationWarning``)."""
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; use {new} instead",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def canonical_settings(
    settings: Mapping[str, Any], *, where: str, stacklevel: int = 3
) -> dict[str, Any]:
    """``settings`` with deprecated keywords renamed (each warns, attributed ``stacklevel``
    frames above this function: 3 is the caller's caller) and unknown keywords refused with
    :class:`ConfigurationError` (with a "did you mean")."""
    out: dict[str, Any] = {}
    for name, value in settings.items():
        new = DEPRECATED_SETTINGS.get(name)
        if new is not None:
            if new in settings:
                raise ConfigurationError(
                    f"{where}: give {new}= only ({name}= is its deprecated old name)"
                )
            deprecated(f"{where}: {name}=", f"{new}=", stacklevel=stacklevel)
            name = new
        out[name] = value
    unknown = sorted(set(out) - set(SESSION_SETTINGS))
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown session setting(s) {did_you_mean(unknown, SESSION_SETTINGS)}; "
            f"known: {', '.join(sorted(SESSION_SETTINGS))}"
        )
    return out


def did_you_mean(unknown: Iterable[str], known: Iterable[str]) -> str:
    """``'volum' (did you mean 'volume'?), 'x'``: unknown names, each with its closest known one."""
    choices = list(known)
    return ", ".join(
        f"{k!r} (did you mean {m[0]!r}?)"
        if (m := difflib.get_close_matches(k, choices, 1))
        else repr(k)
        for k in unknown
    )


_OLD_NAME = re.compile(
    r"(?<![\w.])(" + "|".join(sorted(DEPRECATED_SETTINGS, key=len, reverse=True)) + r")\b"
)


def _canonical_message(text: str) -> str:
    return _OLD_NAME.sub(lambda m: DEPRECATED_SETTINGS[m.group(1)], text)


def session_settings(
    settings: Mapping[str, Any], *, session_type: str = "realtime"
) -> dict[str, Any]:
    """A validated partial GA session (``session.update`` payload) from canonical keywords.

    Raises :class:`ConfigurationError` naming the keyword and the values it takes."""
    kwargs = {_TO_BUILDER.get(k, k): v for k, v in settings.items()}
    try:
        return session_update(session_type=session_type, **kwargs)
    except ConfigurationError:
        raise
    except ValueError as exc:
        raise ConfigurationError(_canonical_message(str(exc))) from None
