"""Shared pieces of the benchmark suite: the :class:`Result` row, timing and machine info."""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from types import ModuleType
from typing import Any


@dataclass
class Result:
    """One benchmark measurement, optionally compared with a baseline and a target.

    ``ratio`` is always "times better than the baseline": ``value / baseline_value`` when
    higher is better, ``baseline_value / value`` when lower is better.
    """

    group: str
    name: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    higher_is_better: bool = True
    target: str | None = None
    met: bool | None = None
    notes: str = ""
    module: str = field(default="", compare=False)  # filled in by the runner

    @property
    def ratio(self) -> float | None:
        """How many times better than the baseline (> 1 means better), or None."""
        if self.baseline_value is None or not math.isfinite(self.value):
            return None
        num, den = (
            (self.value, self.baseline_value)
            if self.higher_is_better
            else (self.baseline_value, self.value)
        )
        if den == 0 or not math.isfinite(den) or not math.isfinite(num):
            return None
        return num / den

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, including the computed ``ratio`` (NaN becomes None)."""
        d = asdict(self)
        d["ratio"] = self.ratio
        for key in ("value", "baseline_value"):
            v = d[key]
            if isinstance(v, float) and not math.isfinite(v):
                d[key] = None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        """Inverse of :meth:`to_dict` (unknown keys such as ``ratio`` are ignored)."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        if kwargs.get("value") is None:
            kwargs["value"] = math.nan
        return cls(**kwargs)


def timeit_best(
    fn: Callable[[], object], repeat: int = 5, number: int = 1, warmup: int = 1
) -> float:
    """Best-of-``repeat`` wall time in seconds of one call of ``fn``.

    Each repeat times ``number`` back-to-back calls with ``time.perf_counter`` and
    divides by ``number``; ``warmup`` untimed calls run first.
    """
    if repeat < 1 or number < 1:
        raise ValueError("repeat and number must be >= 1")
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def autonumber(fn: Callable[[], object], min_time: float = 0.02) -> int:
    """A ``number`` of calls (1, 2, 5, 10, 20, ...) of ``fn`` lasting at least ``min_time`` s."""
    number = 1
    while True:
        for step in (1, 2, 5):
            n = number * step
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            if time.perf_counter() - t0 >= min_time:
                return n
        number *= 10


def import_audioop() -> ModuleType | None:
    """The C ``audioop`` module (stdlib before 3.13, ``audioop-lts`` after), or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            return None
    return audioop


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_info() -> dict[str, Any]:
    """Date, CPU model, core count, RAM and Python/numpy versions for the results header."""
    try:
        import numpy

        numpy_version: str | None = numpy.__version__
    except ImportError:
        numpy_version = None
    ram = _ram_gib()
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": None if ram is None else round(ram, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": numpy_version,
        "argv": sys.argv[1:],
    }
