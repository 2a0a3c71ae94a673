"""Benchmark suite of rt_jupyter: ``python -m benchmarks [--quick] [-k SUBSTRING]``.

Each ``bench_*.py`` module defines ``run(quick: bool) -> list[Result]``; see
:mod:`benchmarks.common` for :class:`~benchmarks.common.Result` and the timing helpers.
"""
