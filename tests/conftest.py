"""Suite-wide fixtures: no test ever sees a real API key from the environment; hypothesis draws
the same examples on every run (``make test`` is a check, not a search), unless
``HYPOTHESIS_PROFILE=explore`` (``make fuzz``) asks it to search anew."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from rt_jupyter.config import PROVIDER_ENV

if TYPE_CHECKING:
    from rt_jupyter.local.session import Engines

# "ci": derandomized, so a red run is a change in the code, never a new draw; "explore": random
# seeds, for looking for new bugs (then keep what it finds as an explicit example or a unit test)
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# every provider setting and credential (OpenAI's, a gateway's, Azure's), the model and the
# local switch
_SECRET_ENV = (*PROVIDER_ENV, "RT_JUPYTER_MODEL", "RT_JUPYTER_LOCAL")


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


@pytest.fixture(scope="session")
def engines() -> Iterator[Engines]:
    """The real offline engines (VAD, the recogniser pool's worker processes, the voice), loaded
    once for the whole run and stopped at its end. Tests must not change them: build an
    ``Engines(...)`` of your own from their parts instead."""
    from rt_jupyter.local.session import Engines

    shared = Engines.default()
    yield shared
    shared.close()
