"""The README's Python examples run as written."""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write checkpoint folders
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the examples must not trigger warnings either
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)


def test_readme_command_line_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The README's shell block, line by line through the real entry point, in a new folder."""
    from synnet.cli import main

    monkeypatch.chdir(tmp_path)
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
              if "synnet demo --write-data" in b]
    assert len(blocks) == 1
    commands = [line.split("#", 1)[0].strip() for line in blocks[0].splitlines()]
    commands = [c for c in commands if c]
    assert len(commands) == 5
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "synnet"
        code = main(argv[1:])
        assert code == 0, (command, capsys.readouterr().err)
    out = capsys.readouterr().out
    assert Path("predictions.csv").read_text().splitlines()[0].startswith("prediction,proba_")
    assert "accuracy" in out and "majority class" in out
