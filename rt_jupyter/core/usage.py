"""Token totals over a session's responses, as both front doors report them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["USAGE_KEYS", "add_usage"]

#: The keys of the totals, in order.
USAGE_KEYS = (
    "responses",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "input_text_tokens",
    "input_audio_tokens",
    "output_text_tokens",
    "output_audio_tokens",
)


def add_usage(totals: Mapping[str, Any], usage: Any) -> dict[str, int]:
    """``totals`` plus one ``response.done``'s ``response.usage`` (a new dict; ``totals`` is left
    as it is). A response without a usage object is not counted."""
    result = {key: int(totals.get(key) or 0) for key in USAGE_KEYS}
    if not isinstance(usage, Mapping):
        return result
    result["responses"] += 1
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        result[key] += _count(usage.get(key))
    for side in ("input", "output"):
        details = usage.get(f"{side}_token_details")
        if not isinstance(details, Mapping):
            continue
        for key in ("text_tokens", "audio_tokens"):
            result[f"{side}_{key}"] += _count(details.get(key))
    return result


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
