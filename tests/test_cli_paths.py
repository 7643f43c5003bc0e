"""Paths that are not what they seem: device nodes, FIFOs, symlinks, the input as output,
file modes, a full disk, and model files crafted to exhaust memory or crash the commands."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import struct
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synnet
from synnet.cli import main
from synnet.errors import ConfigError, ModelFileError
from synnet.io import atomic_write, load_model, reader, save_model, writer
from synnet.io.model_file import MAX_HEADER_ITEMS, MAX_MEMBERS
from test_cli import FAST, assert_bad_input, make_data, make_model, run, table_rows, write_csv

needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="creating device nodes needs root (CI runs as root)")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@pytest.fixture
def data(tmp_path) -> Path:
    return make_data(tmp_path)


@pytest.fixture
def model(data, capsys) -> Path:  # beside data.csv
    return make_model(data.parent, data, capsys)


def _bounded(target, *args, seconds: float = 20.0):
    """Run ``target(*args)`` in a thread; fail (instead of hanging) if it blocks."""
    result: dict[str, object] = {}

    def body() -> None:
        try:
            result["value"] = target(*args)
        except BaseException as exc:  # reported to the test below
            result["error"] = exc

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        # Unblock the thread: a writer on the FIFO lets a blocked open() return.
        pytest.fail(f"{target} blocked for {seconds} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


# -- outputs ------------------------------------------------------------------------------


@needs_root
def test_a_device_node_is_never_replaced(tmp_path, model, data, capsys):
    node = tmp_path / "mynull"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    for argv in (["predict", model, data, "-o", node],
                 ["train", data, "-t", "label", "-o", node, *FAST]):
        code, _, err = run(capsys, *argv)
        assert_bad_input(code, err, r"mynull is a character device; synnet only replaces "
                                    r"regular files")
        assert stat.S_ISCHR(os.lstat(node).st_mode)  # still the device
    with pytest.raises(ConfigError, match="character device"):
        save_model(node, synnet.Network([synnet.Dense(2, 1)], seed=0))
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_dev_null_and_dev_stdout_are_refused_untouched(model, data, capsys):
    before = os.stat("/dev/null")
    for target in ("/dev/null", "/dev/stdout"):
        if not os.path.exists(target):
            continue
        code, _, err = run(capsys, "predict", model, data, "-o", target)
        assert code == 2 and "Traceback" not in err, err
        assert "regular files" in err or "system path" in err
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", "/dev/null", *FAST)
    assert_bad_input(code, err, r"/dev/null is a character device")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    with pytest.raises(ConfigError, match="/dev/null is a character device"):
        atomic_write("/dev/null", lambda f: f.write(b"x"))


@needs_fifo
def test_a_fifo_output_is_refused_without_blocking(tmp_path, model, data, capsys):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    code = _bounded(main, ["predict", str(model), str(data), "-o", str(fifo)])
    assert code == 2 and "FIFO" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dash_writes_predictions_to_stdout(model, data, capsys):
    code, out, err = run(capsys, "predict", model, data, "-o", "-")
    assert code == 0, err
    assert out.splitlines()[0] == "prediction" and len(out.splitlines()) == 61
    assert not Path("-").exists()


def test_train_dash_writes_the_model_to_stdout(tmp_path, data):
    result = subprocess.run(
        [sys.executable, "-m", "synnet", "train", str(data), "-t", "label", "--drop", "id,score",
         "-o", "-", *FAST], capture_output=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert b"model written to standard output" in result.stderr
    saved = tmp_path / "from_stdout.synnet"
    saved.write_bytes(result.stdout)
    assert synnet.load(saved).task == "classification"
    assert not (tmp_path / "-").exists()


def test_train_dash_refuses_a_text_only_stdout(data, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # no binary buffer behind it
    code = main(["train", str(data), "-t", "label", "-o", "-", *FAST])
    assert code == 2
    assert "standard output takes no binary data" in capsys.readouterr().err


def test_a_symlink_is_written_through_atomically(tmp_path, model, data, capsys):
    real = tmp_path / "real" / "predictions.csv"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    code, _, err = run(capsys, "predict", model, data, "-o", link)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link itself stays
    assert real.read_text().startswith("prediction\n")
    assert sorted(p.name for p in real.parent.iterdir()) == ["predictions.csv"]  # no temp left
    # A link to a file that does not exist yet: the file is created at the target.
    dangling = tmp_path / "new.synnet"
    dangling.symlink_to(tmp_path / "real" / "model2.synnet")
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", dangling, *FAST)
    assert code == 0, err
    assert dangling.is_symlink() and synnet.load(tmp_path / "real" / "model2.synnet")


def test_a_symlink_to_a_device_is_refused(tmp_path, model, data, capsys):
    link = tmp_path / "out.csv"
    link.symlink_to("/dev/null")
    code, _, err = run(capsys, "predict", model, data, "-o", link)
    assert_bad_input(code, err, r"out\.csv \(a link to /dev/null\) is a character device")
    assert link.is_symlink()
    (tmp_path / "devices").symlink_to("/dev")  # a new name in /dev, through a linked folder
    code, _, err = run(capsys, "predict", model, data, "-o", tmp_path / "devices" / "new.csv")
    assert_bad_input(code, err, r"new\.csv is a system path; synnet writes only to files of "
                                r"yours")
    assert not os.path.lexists("/dev/new.csv")


def test_the_output_may_not_be_an_input(tmp_path, model, data, capsys):
    original, model_bytes = data.read_bytes(), model.read_bytes()
    alias = tmp_path / "alias.csv"
    alias.symlink_to(data)
    (tmp_path / "pic.png").symlink_to(data)
    (tmp_path / "model_alias.csv").symlink_to(model)
    cases = [(["train", data, "-t", "label", "-o", data, *FAST], "DATA"),
             (["train", data, "-t", "label", "-o", alias, *FAST], "DATA"),
             (["train", data, "-t", "label", "-o", tmp_path / "." / "data.csv", *FAST], "DATA"),
             (["train", data, "-t", "label", "-o", tmp_path / "m.synnet", "--plot",
               tmp_path / "pic.png", *FAST], "DATA"),
             (["predict", model, data, "-o", tmp_path / "model_alias.csv"], "MODEL"),
             (["predict", model, data, "-o", data], "DATA"),
             (["predict", model, alias, "-o", data], "DATA")]
    hard = tmp_path / "hard.csv"
    os.link(data, hard)
    cases.append((["predict", model, hard, "-o", data], "DATA"))
    for argv, what in cases:
        code, _, err = run(capsys, *argv)
        assert_bad_input(code, err, rf"is the {what} file itself; writing it would replace "
                                    rf"your {what.lower()}")
        assert data.read_bytes() == original and model.read_bytes() == model_bytes
    code, _, err = run(capsys, "predict", model, data, "-o", model.with_suffix(".csv"))
    assert code == 0, err  # a different file is fine
    assert model.read_bytes() == model_bytes


def test_replacing_a_file_keeps_its_mode(tmp_path, model, data, capsys):
    out = tmp_path / "predictions.csv"
    out.write_text("old\n")
    out.chmod(0o600)
    code, _, err = run(capsys, "predict", model, data, "-o", out)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_text() != "old\n"
    model.chmod(0o640)
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", model, *FAST)
    assert code == 0, err
    assert stat.S_IMODE(model.stat().st_mode) == 0o640


def test_a_full_disk_names_the_path_and_leaves_nothing(tmp_path, model, data, capsys,
                                                      monkeypatch):
    out = tmp_path / "predictions.csv"
    out.write_text("old\n")
    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = run(capsys, "predict", model, data, "-o", out)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert_bad_input(code, err, rf"no space left on the device to write {out}",
                     r"hint: free some disk space")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "model.synnet",
                                                          "predictions.csv"]


def test_a_failed_rename_names_the_path_not_the_temporary_file(tmp_path, monkeypatch):
    def no_rename(src, dst) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src), str(dst))

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "x.bin", lambda f: f.write(b"x"))
    assert info.value.filename == str(tmp_path / "x.bin")
    assert list(tmp_path.iterdir()) == []


def test_other_write_errors_name_the_path(tmp_path):
    def fail(f) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "x.bin", fail)
    assert info.value.filename == str(tmp_path / "x.bin") and info.value.errno == errno.EIO
    assert list(tmp_path.iterdir()) == []


# -- FIFOs as inputs ------------------------------------------------------------------------


@needs_fifo
def test_a_fifo_model_is_refused_without_blocking(tmp_path, data, capsys):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match=r"is a FIFO \(named pipe\); a model file must be"):
        _bounded(synnet.load, str(fifo))
    for argv in (["inspect", str(fifo)], ["predict", str(fifo), str(data)],
                 ["evaluate", str(fifo), str(data)]):
        code = _bounded(main, argv)
        assert_bad_input(code, capsys.readouterr().err, r"is a FIFO")


@needs_fifo
def test_a_fifo_named_like_a_checkpoint_is_skipped(tmp_path, data, capsys):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    os.mkfifo(folder / "ckpt-00000003.synnet")
    argv = ["train", str(data), "-t", "label", "--drop", "id,score", "-o",
            str(tmp_path / "m.synnet"), "--checkpoint-dir", str(folder), "--resume", *FAST]
    code = _bounded(main, argv, seconds=60)
    err = capsys.readouterr().err
    assert "warning: skipping damaged checkpoint ckpt-00000003.synnet" in err
    # No checkpoint is usable: resume refuses (issue 10) and the FIFO is left as it is.
    assert code == 2 and "Traceback" not in err
    assert "To start afresh" in err
    assert stat.S_ISFIFO(os.lstat(folder / "ckpt-00000003.synnet").st_mode)


def test_a_device_model_is_refused(capsys):
    code, _, err = run(capsys, "inspect", "/dev/null")
    assert_bad_input(code, err, r"/dev/null is a character device; a model file must be a "
                                r"regular file")


# -- crafted archives and headers --------------------------------------------------------


def _eocd(count: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF),
                       min(count, 0xFFFF), cd_size, cd_offset, 0)


def test_a_huge_member_count_is_refused_before_zipfile_parses(tmp_path, monkeypatch):
    path = tmp_path / "many.synnet"
    called = []
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: called.append(1))
    # The classic record holds at most 65,535: a ZIP64 record carries the real count.
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 2_000_001, 2_000_001,
                        0, 30)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 30, 1)
    path.write_bytes(b"PK\x03\x04" + b"\0" * 26 + zip64 + locator
                     + _eocd(0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
    with pytest.raises(ModelFileError, match=r"lists 2,000,001 members, more than the 100,000"):
        load_model(path)
    assert called == []


def test_a_directory_larger_than_its_count_is_refused(tmp_path, monkeypatch):
    # The end record says 1 member, but the directory holds MAX_MEMBERS + 1 records:
    # zipfile would parse every one of them (it reads for the directory's size).
    record = struct.pack("<4s24s3H12s", b"PK\x01\x02", b"\0" * 24, 1, 0, 0, b"\0" * 12) + b"a"
    n = MAX_MEMBERS + 1
    directory = record * n
    path = tmp_path / "dir.synnet"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 26 + directory + _eocd(1, len(directory), 30))
    called = []
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: called.append(1))
    with pytest.raises(ModelFileError, match=r"central directory holds more than 100,000"):
        load_model(path)
    assert called == []


def test_a_real_zip64_archive_with_few_members_still_loads(tmp_path, model):
    # zipfile writes ZIP64 records when forced: the count check reads them correctly.
    src = zipfile.ZipFile(model)
    path = tmp_path / "z64.synnet"
    with zipfile.ZipFile(path, "w", allowZip64=True) as dst:
        for info in src.infolist():
            with dst.open(info.filename, "w", force_zip64=True) as f:
                f.write(src.read(info))
    src.close()
    loaded = load_model(path)
    assert loaded.network.n_inputs == load_model(model).network.n_inputs


def _rezip(model: Path, out: Path, header: dict | bytes) -> Path:
    with zipfile.ZipFile(model) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            content = src.read(name)
            if name == "header.json":
                content = header if isinstance(header, bytes) else json.dumps(header).encode()
            dst.writestr(name, content)
    return out


def test_a_header_of_many_tiny_values_is_refused_before_parsing(tmp_path, model, monkeypatch):
    header = json.loads(zipfile.ZipFile(model).read("header.json"))
    text = json.dumps(header)
    # 16 MiB of [[],[],...] in a free-text field: about 5.6 million lists.
    filler = "[" + ",".join(["[]"] * ((16 * 2**20 - len(text) - 100) // 3)) + "]"
    bomb = text[:-1] + ', "extra": {"x": ' + filler + "}}"
    path = _rezip(model, tmp_path / "bomb.synnet", bomb.encode())
    parsed = []
    real_loads = json.loads
    monkeypatch.setattr(json, "loads", lambda *a, **k: (parsed.append(1), real_loads(*a, **k))[1])
    with pytest.raises(ModelFileError, match=rf"JSON values, more than the {MAX_HEADER_ITEMS:,}"):
        load_model(path)
    assert parsed == []


def test_saving_a_header_the_reader_would_refuse_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "MAX_HEADER_ITEMS", 1000)  # the real cap, scaled down
    net = synnet.Network([synnet.Dense(2, 1)], seed=0)
    with pytest.raises(ConfigError, match="JSON values, more than the 1,000"):
        save_model(tmp_path / "m.synnet", net, extra={"x": [0] * 1000})
    assert list(tmp_path.iterdir()) == []
    save_model(tmp_path / "m.synnet", net, extra={"x": [0] * 900})
    monkeypatch.setattr(reader, "MAX_HEADER_ITEMS", 1000)
    assert load_model(tmp_path / "m.synnet").extra == {"x": [0] * 900}


# -- loadable files with odd free-JSON fields --------------------------------------------


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2)
                    | st.text(max_size=3),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
FIELDS = [("metadata", "feature_names"), ("metadata", "target_name"),
          ("training", "scores"), ("training", "settings"), ("training", "best_epoch"),
          ("training", "rows"), ("training", "seconds"), ("training", "data"),
          ("training", "epochs_run"), ("training", None), ("metadata", None)]
SETTING_KEYS = ["hidden", "lr", "impute", "seed", "categorical", "features", "epochs"]


@pytest.fixture(scope="module")
def good_models(tmp_path_factory) -> tuple[list[Path], Path]:
    """A model from synnet train, and a bare network whose metadata names its columns."""
    folder = tmp_path_factory.mktemp("odd")
    header, rows = table_rows()
    data = write_csv(folder / "data.csv", header, rows)
    trained = folder / "trained.synnet"
    assert main(["train", str(data), "-t", "label", "--drop", "id,score", "-o", str(trained),
                 *FAST]) == 0
    bare = folder / "bare.synnet"
    save_model(bare, synnet.Network([synnet.Dense(2, 1)], seed=0),
               metadata={"feature_names": ["x", "count"]},
               training={"scores": {"train": {"rows": 60, "mae": 0.5}}, "best_epoch": 3,
                         "settings": {"hidden": [4], "lr": 0.1}})
    return [trained, bare], data


ODD = JSON | st.dictionaries(st.text(max_size=3), JSON, min_size=1, max_size=3)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from([0, 1]), field=st.sampled_from(FIELDS), value=ODD,
       setting=st.sampled_from(SETTING_KEYS))
def test_odd_header_fields_never_crash_inspect_or_predict(good_models, tmp_path, capsys,
                                                          which, field, value, setting):
    models, data = good_models
    model = models[which]
    header = json.loads(zipfile.ZipFile(model).read("header.json"))
    section, key = field
    if key is None:
        header[section] = value if isinstance(value, dict) else {"x": value}
    elif (section, key) == ("training", "settings") and not isinstance(value, dict):
        header[section].setdefault(key, {})[setting] = value  # one odd setting
    else:
        header[section][key] = value
    odd = _rezip(model, tmp_path / "odd.synnet", header)
    for argv in (["inspect", odd], ["predict", odd, data], ["evaluate", odd, data]):
        code, out, err = run(capsys, *argv)  # any other exception fails the test
        assert code in (0, 2), err
        assert "Traceback" not in err
        if code == 2:
            assert err.startswith("synnet: error: ") and out == ""


@pytest.mark.parametrize("names, pattern", [
    ([1, 2, 3], "must be a list of distinct column names"),
    (["x", "x", "colour"], "must be a list of distinct column names"),
    ("x,count", "must be a list of distinct column names"),
])
def test_bad_feature_names_are_refused_clearly(tmp_path, model, data, capsys, names, pattern):
    header = json.loads(zipfile.ZipFile(model).read("header.json"))
    header["metadata"]["feature_names"] = names
    odd = _rezip(model, tmp_path / "odd.synnet", header)
    for argv in (["inspect", odd], ["predict", odd, data]):
        code, _, err = run(capsys, *argv)
        assert_bad_input(code, err, pattern)


def test_a_bare_network_with_wrong_feature_names_is_refused(tmp_path, capsys):
    net = synnet.Network([synnet.Dense(2, 1)], seed=0)
    path = tmp_path / "bare.synnet"
    save_model(path, net, metadata={"feature_names": ["a", "b", "c"]})
    with pytest.raises(ModelFileError, match=r"lists 3 column\(s\) but the network takes 2"):
        synnet.load(path)
    np.testing.assert_equal(load_model(path).metadata["feature_names"], ["a", "b", "c"])
