"""``rt_jupyter.core`` exports the public names of its modules, loading each module on first use."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import rt_jupyter.core as core

#: Every module of the package, found on disk (a new one is exported too, or this fails).
MODULES = sorted(m.name for m in pkgutil.iter_modules(core.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_of_a_core_module_is_exported(name: str) -> None:
    assert len(MODULES) >= 9
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
