"""Identifiers in the shapes seen on the wire (``event_…``, ``resp_…``, ``item_…``, ``call_…``)."""

from __future__ import annotations

import os

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TABLE = bytes(ord(_ALPHABET[b % 62]) for b in range(248))


def _base62(n: int) -> str:
    out: list[int] = []
    while len(out) < n:
        for b in os.urandom(n * 2):
            if b < 248:  # reject the tail to keep the distribution uniform
                out.append(_TABLE[b])
                if len(out) == n:
                    break
    return bytes(out).decode()


def new_id(prefix: str, length: int = 21) -> str:
    """A random id such as ``event_C9G5RJeJ2gF77mV7f2B1j`` (``prefix`` + ``_`` + base62)."""
    return f"{prefix}_{_base62(length)}"


def event_id() -> str:
    """A server event id (``event_`` + 21 base62 characters)."""
    return new_id("event")


def item_id() -> str:
    """A conversation item id."""
    return new_id("item")


def response_id() -> str:
    """A response id."""
    return new_id("resp")


def call_id() -> str:
    """A function call id (``call_`` + 16 characters)."""
    return new_id("call", 16)


def ephemeral_key() -> str:
    """An ephemeral client secret (``ek_`` + 32 hex digits)."""
    return "ek_" + os.urandom(16).hex()
