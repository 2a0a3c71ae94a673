"""``rt_jupyter.core`` exports the public names of its modules, loading each module on first use."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import rt_jupyter.core as core

MODULES = [
    "code",
    "dispatch",
    "replies",
    "reply",
    "sending",
    "settings",
    "tools",
    "transcript",
    "usage",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_of_a_core_module_is_exported(name: str) -> None:
    module = importlib.import_module(f"rt_jupyter.core.{name}")
    for public in module.__all__:
        assert public in core.__all__, f"{name}.{public}"
        assert getattr(core, public) is getattr(module, public)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        core.no_such_name  # noqa: B018


def test_the_settings_alone_do_not_load_numpy() -> None:
    code = "import sys, rt_jupyter.core.settings; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
