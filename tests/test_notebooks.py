"""Every example notebook runs top to bottom (against the local service: no key in tests).

Cells tagged ``live`` need a microphone and a browser; they are left out here and covered by the
browser tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_every_notebook_is_covered() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {
        "quickstart.ipynb",
        "scripted_audio.ipynb",
        "events_dataframe.ipynb",
        "transcription.ipynb",
        "translation.ipynb",
        "tools.ipynb",
        "codegen.ipynb",
        "replay_sweep.ipynb",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        assert not cell.get("outputs"), f"{path.name}: commit notebooks without outputs"
    nb.cells = [c for c in nb.cells if "live" not in c.metadata.get("tags", [])]
    work = tmp_path / path.stem
    work.mkdir()
    for extra in path.parent.glob("*.wav"):
        shutil.copy(extra, work)
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    )
    client.execute()
    errors = [
        output
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors, errors
