"""``python -m rt_jupyter.hub`` (``rt-jupyter hub-service``) refuses bad settings with one clear
line, never a traceback and never the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KEY = "sk-hubcli-" + "k" * 24


def run(*args: str, key: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "NEW_API_KEY")}
    if key:
        env["OPENAI_API_KEY"] = KEY
    return subprocess.run(
        [sys.executable, "-m", "rt_jupyter.hub", "--url", "http://127.0.0.1:9", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "config", "key", "says"),
    [
        ((), None, False, "no standard API key"),
        (("--db-url", "sqlite://"), None, True, "in-memory SQLite database"),
        (("--db-url", "nosuchdb://x"), None, True, "Can't load plugin"),
        ((), 'c.HubService.users = {"ann": {"per_day": 3}}', True, "users['ann']: unknown field"),
        ((), 'c.HubService.user_limits = {"mints_per_minute": -1}', True, "must be a number >= 0"),
        ((), 'c.RealtimeExtension.policy = {"voice": 3}', True, "'voice' must be a str"),
    ],
)
def test_bad_settings_are_one_clear_line(
    tmp_path: Path, args: tuple[str, ...], config: str | None, key: bool, says: str
) -> None:
    extra = list(args)
    if config is not None:
        path = tmp_path / "service_config.py"
        path.write_text(f"c = get_config()  # noqa\n{config}\n", encoding="utf-8")
        extra += ["--config", str(path)]
    if "--db-url" not in extra:
        extra += ["--db-url", f"sqlite:///{tmp_path / 'q.sqlite'}"]
    result = run(*extra, key=key)
    assert result.returncode != 0
    assert says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and KEY not in result.stderr + result.stdout
