"""Run the benchmark suite: ``python -m benchmarks [--quick] [-k SUBSTRING] [-o DIR]``.

Every ``benchmarks/bench_*.py`` module (sorted by name) has ``run(quick: bool) ->
list[Result]``. The results go to ``results.md`` (a Markdown table) and
``results.json`` in the output directory. With ``-k`` only the matching modules run;
the rows of the other modules are kept from the existing ``results.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import pkgutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import Result, machine_info

PACKAGE_DIR = Path(__file__).resolve().parent
COLUMNS = (
    "Group",
    "Benchmark",
    "Value",
    "Baseline",
    "Baseline value",
    "Ratio",
    "Target",
    "Met",
    "Notes",
)


def discover() -> list[str]:
    """Names of the ``bench_*`` modules of this package, sorted."""
    return sorted(
        m.name for m in pkgutil.iter_modules([str(PACKAGE_DIR)]) if m.name.startswith("bench_")
    )


def select(modules: Sequence[str], patterns: Sequence[str] | None) -> list[str]:
    """The modules whose name contains any of ``patterns`` (all when none given)."""
    if not patterns:
        return list(modules)
    return [m for m in modules if any(p in m for p in patterns)]


def run_module(name: str, quick: bool) -> tuple[list[Result], float, str | None]:
    """Import and run one benchmark module; a failure becomes an error row."""
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(f"{__package__}.{name}")
        results = list(module.run(quick))
        error = None
    except Exception as exc:  # a broken benchmark must not hide the others
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}"
        results = [
            Result(name.removeprefix("bench_"), "(module failed)", math.nan, "", notes=error)
        ]
    for r in results:
        r.module = name
    return results, time.perf_counter() - t0, error


def format_value(value: float | None, unit: str = "") -> str:
    """Compact human format: 3-4 significant digits, SI prefixes from 10,000 up."""
    if value is None or not math.isfinite(value):
        return "n/a"
    for threshold, scale, prefix in (
        (1e12, 1e12, "T"),
        (1e9, 1e9, "G"),
        (1e6, 1e6, "M"),
        (1e4, 1e3, "k"),
    ):
        if abs(value) >= threshold:
            return f"{value / scale:.3g} {prefix}{unit}"
    text = f"{value:.4g}" if abs(value) >= 1 else f"{value:.3g}"
    return f"{text} {unit}" if unit else text


def format_ratio(ratio: float | None) -> str:
    """``0.99×``, ``12.3×``, ``1,234×``: two decimals below 10, then three significant digits."""
    if ratio is None or not math.isfinite(ratio):
        return ""
    if ratio >= 1000:
        return f"{ratio:,.0f}×"
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.3g}×"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Sequence[Result], meta: dict[str, Any]) -> str:
    """The results table with a header describing the machine and the runs."""
    m = meta["machine"]
    ram = f"{m['ram_gib']} GiB" if m.get("ram_gib") is not None else "unknown"
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {m['date']}",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {ram} RAM ({m['platform']})",
        f"- Python {m['python']} ({m['python_implementation']}), numpy {m['numpy']}",
        "- Command: `python -m benchmarks" + "".join(f" {a}" for a in m.get("argv", [])) + "`",
    ]
    runs = meta.get("modules", {})
    if runs:
        parts = []
        for name, info in sorted(runs.items()):
            mode = "quick" if info.get("quick") else "full"
            status = " **FAILED**" if info.get("error") else ""
            parts.append(f"`{name}` ({mode}, {info.get('date', '?')}){status}")
        lines.append("- Modules: " + ", ".join(parts))
    lines += [
        "",
        "Ratio > 1 means better than the baseline (higher throughput or lower latency).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for r in results:
        ratio = r.ratio
        met = "" if r.met is None else ("✓" if r.met else "✗")
        row = (
            r.group,
            r.name,
            format_value(r.value, r.unit),
            r.baseline or "",
            format_value(r.baseline_value, r.unit) if r.baseline_value is not None else "",
            format_ratio(ratio),
            r.target or "",
            met,
            r.notes,
        )
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def load_previous(path: Path) -> tuple[list[Result], dict[str, Any]]:
    """Rows and per-module run info of an existing results.json (empty if unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = [Result.from_dict(d) for d in data.get("results", [])]
        return rows, dict(data.get("modules", {}))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        if path.exists():
            print(f"warning: ignoring unreadable {path}: {exc}", file=sys.stderr)
        return [], {}


def merge(
    previous: Sequence[Result], fresh: dict[str, list[Result]], all_modules: Sequence[str]
) -> list[Result]:
    """Fresh rows of the modules that ran, previous rows of the others, in module order."""
    by_module: dict[str, list[Result]] = {}
    for r in previous:  # rows of modules that no longer exist are dropped
        if r.module not in fresh and r.module in all_modules:
            by_module.setdefault(r.module, []).append(r)
    by_module.update(fresh)
    order = {name: i for i, name in enumerate(all_modules)}
    names = sorted(by_module, key=lambda n: (order.get(n, len(order)), n))
    return [r for name in names for r in by_module[name]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run the rt_jupyter benchmark suite."
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats / smaller inputs")
    parser.add_argument(
        "-k",
        dest="patterns",
        action="append",
        metavar="SUBSTRING",
        help="only run modules whose name contains SUBSTRING (repeatable)",
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=PACKAGE_DIR,
        help="where to write results.md and results.json (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    modules = discover()
    chosen = select(modules, args.patterns)
    if not chosen:
        parser.error(f"no benchmark module matches {args.patterns}; available: {modules}")

    out_dir: Path = args.output_dir
    json_path, md_path = out_dir / "results.json", out_dir / "results.md"
    previous, runs = load_previous(json_path) if set(chosen) != set(modules) else ([], {})
    runs = {k: v for k, v in runs.items() if k in modules}

    fresh: dict[str, list[Result]] = {}
    failed = []
    machine = machine_info()
    for name in chosen:
        print(f"[benchmarks] {name} ({'quick' if args.quick else 'full'}) ...", flush=True)
        results, seconds, error = run_module(name, args.quick)
        fresh[name] = results
        runs[name] = {"date": machine["date"], "quick": args.quick, "seconds": round(seconds, 1)}
        if error:
            runs[name]["error"] = error
            failed.append(name)
        for r in results:
            ratio = "" if r.ratio is None else f"  ratio {format_ratio(r.ratio)}"
            met = "" if r.met is None else ("  ✓" if r.met else "  ✗")
            print(f"  {r.group} / {r.name}: {format_value(r.value, r.unit)}{ratio}{met}")

    rows = merge(previous, fresh, modules)
    meta = {"machine": machine, "modules": runs}
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "results": [r.to_dict() for r in rows]}
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(rows, meta), encoding="utf-8")
    print(f"[benchmarks] wrote {md_path} and {json_path}")
    if failed:
        print(f"[benchmarks] FAILED modules: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
