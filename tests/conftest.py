"""Suite-wide fixtures: no test ever sees a real API key from the environment."""

from __future__ import annotations

import pytest

_SECRET_ENV = (
    "OPENAI_API_KEY",
    "NEW_API_KEY",
    "OPENAI_BASE_URL",
    "RT_JUPYTER_MODEL",
    "RT_JUPYTER_DIALECT",
    "RT_JUPYTER_LOCAL",
)


@pytest.fixture(autouse=True)
def _no_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _SECRET_ENV:
        monkeypatch.delenv(name, raising=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-soak", action="store_true", help="run the long soak tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-soak"):
        return
    skip = pytest.mark.skip(reason="soak test: run with `make soak` (--run-soak)")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
