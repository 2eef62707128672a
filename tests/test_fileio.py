"""Atomic writes, folder swaps, output locks and cheap safetensors headers."""

import errno
import json
import os
import struct
import subprocess
import sys
import threading

import pytest
import torch
from safetensors.torch import save_file

from hourglass.data import fileio, locks
from hourglass.exceptions import OutputError, OutputExistsError, OutputLockedError


def _write_folder(path, text: str) -> None:
    with fileio.atomic_path(path) as tmp:
        tmp.mkdir()
        (tmp / "a.txt").write_text(text)
        (tmp / "b.txt").write_text(text)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("exchange", [True, False])
def test_atomic_folder_replace_leaves_only_the_new_folder(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)  # systems without renameat2
    _write_folder(tmp_path / "m", "old")
    _write_folder(tmp_path / "m", "new")
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no hidden leftovers
    assert (tmp_path / "m" / "a.txt").read_text() == "new"


def test_atomic_path_failure_keeps_the_old_folder_and_removes_what_it_made(tmp_path):
    _write_folder(tmp_path / "m", "old")
    with pytest.raises(RuntimeError), fileio.atomic_path(tmp_path / "m") as tmp:
        tmp.mkdir()
        raise RuntimeError("writer died")
    with pytest.raises(RuntimeError), fileio.atomic_path(tmp_path / "new" / "deeper" / "x.npy") as tmp:
        raise RuntimeError("writer died")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert (tmp_path / "m" / "a.txt").read_text() == "old"


@pytest.mark.parametrize(
    "inside, names_it",
    [
        ("", True),  # np.save names the temporary
        ("", False),  # pandas' to_csv names nothing
        ("weights.safetensors", True),  # a file of a folder output
    ],
)
def test_a_failed_write_is_an_output_error_naming_the_output(tmp_path, inside, names_it):
    path = tmp_path / "new" / "out"
    with pytest.raises(OutputError) as info, fileio.atomic_path(path) as tmp:
        if inside:
            tmp.mkdir()
        raise OSError(errno.EFBIG, "File too large", str(tmp / inside) if names_it else None)
    assert str(info.value) == f"cannot write {str(path / inside)!r}: File too large"
    assert list(tmp_path.iterdir()) == []  # neither the temporary nor the folder made for it


def test_an_error_about_another_file_while_writing_is_not_blamed_on_the_output(tmp_path):
    error = FileNotFoundError(errno.ENOENT, "No such file or directory", str(tmp_path / "input.npy"))
    with pytest.raises(FileNotFoundError) as info, fileio.atomic_path(tmp_path / "out.npy"):
        raise error
    assert info.value is error


def test_a_reader_always_sees_a_whole_folder_while_writers_replace_it(tmp_path):
    # Two writers replace the folder over and over; a reader must find both files, always of
    # one generation, at every instant.
    _write_folder(tmp_path / "m", "0")
    stop, seen, errors = threading.Event(), set(), []

    def writer(tag):
        for i in range(40):
            _write_folder(tmp_path / "m", f"{tag}{i}")

    def reader():
        while not stop.is_set():
            try:
                a, b = (tmp_path / "m" / "a.txt").read_text(), (tmp_path / "m" / "b.txt").read_text()
            except OSError as exc:
                errors.append(exc)
                continue
            if a == b:
                seen.add(a)
            else:
                # the two reads straddled a swap; each is still a whole file of one generation
                seen.update((a, b))

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in "xy"]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    assert (tmp_path / "m" / "a.txt").read_text() in {"x39", "y39"}


def test_temporaries_of_killed_writers_are_swept_by_the_next_write(tmp_path):
    pid = _dead_pid()
    (tmp_path / f".m.hg-{pid}-abc.tmp").mkdir()  # a writer killed while writing
    (tmp_path / f".m.hg-{pid}-def.tmp").mkdir()  # ... or after the swap, before removing the old one
    (tmp_path / f".m.hg-{os.getpid()}-ghi.tmp").mkdir()  # a live writer's: not touched
    _write_folder(tmp_path / "m", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".m.hg-{os.getpid()}-ghi.tmp", "m"]


def test_interrupted_two_rename_swap_is_found(tmp_path):
    pid = _dead_pid()
    aside = tmp_path / f".m.hg-{pid}-abc.tmp.old"
    aside.mkdir()
    assert fileio.interrupted_swap(tmp_path / "m") == aside
    _write_folder(tmp_path / "other", "x")  # a write elsewhere keeps the only copy of m
    assert aside.exists()
    (tmp_path / "m").mkdir()
    assert fileio.interrupted_swap(tmp_path / "m") is None


@pytest.mark.parametrize("name", [".", "..", ""])
def test_check_writable_refuses_names_of_existing_folders(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="give the output a name"):
        fileio.check_writable(name, force=True)


def test_check_writable_refuses_a_path_under_a_file(tmp_path):
    (tmp_path / "file.csv").write_text("x")
    with pytest.raises(OutputError, match="'.*file.csv' is a file, not a folder"):
        fileio.check_writable(tmp_path / "file.csv" / "deeper" / "x.npy")


def test_check_writable_refuses_an_unwritable_folder(tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match="cannot write .*: Permission denied"):
        fileio.check_writable(tmp_path / "new" / "codes.npy")


def test_check_writable_refuses_existing_without_force(tmp_path):
    (tmp_path / "x.npy").write_text("x")
    with pytest.raises(OutputExistsError):
        fileio.check_writable(tmp_path / "x.npy")
    assert fileio.check_writable(tmp_path / "x.npy", force=True) == tmp_path / "x.npy"


def test_check_writable_refuses_a_folder_where_a_file_goes_even_with_force(tmp_path):
    # --report r.html --force onto a folder r.html ran the whole command, then failed to write.
    (tmp_path / "r.html").mkdir()
    with pytest.raises(OutputError, match="'.*r.html' is a folder, and the output written there is a file"):
        fileio.check_writable(tmp_path / "r.html", force=True, file=True)
    assert fileio.check_writable(tmp_path / "r.html", force=True) == tmp_path / "r.html"  # a model folder


def test_output_lock_refuses_a_second_writer_naming_the_first(tmp_path):
    with locks.output_lock(tmp_path / "m"):
        info = json.loads((tmp_path / "m.lock").read_text())
        assert info["pid"] == os.getpid()
        with pytest.raises(OutputLockedError, match=rf"being written by pid {os.getpid()} on .* since"):
            with locks.output_lock(tmp_path / "m"):
                pass
    assert list(tmp_path.iterdir()) == []  # the lock goes with its run


def test_output_lock_takes_over_a_stale_lock(tmp_path):
    # A killed run's lock file: its pid is gone and nobody holds the flock.
    (tmp_path / "m.lock").write_text(json.dumps({"pid": _dead_pid(), "host": "h", "since": "then"}))
    with locks.output_lock(tmp_path / "m"):
        assert json.loads((tmp_path / "m.lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / "m.lock").exists()


def test_safetensors_header_reads_shapes_without_tensors(tmp_path):
    save_file({"w": torch.zeros(3, 4), "b": torch.zeros(4, dtype=torch.int64)}, tmp_path / "x", {"k": "v"})
    metadata, tensors = fileio.safetensors_header(tmp_path / "x")
    assert metadata == {"k": "v"}
    assert tensors == {"w": ("F32", (3, 4)), "b": ("I64", (4,))}


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "too short"),
        (struct.pack("<Q", 2**40) + b"{}", "header of"),
        (struct.pack("<Q", 2) + b"[]", "malformed header"),
        (struct.pack("<Q", 9) + b'{"a": {}}', "malformed entry"),
        (
            lambda: (
                (h := json.dumps({"w": {"dtype": "F32", "shape": [10**9], "data_offsets": [0, 4 * 10**9]}}))
                and struct.pack("<Q", len(h)) + h.encode()
            ),
            "need 4000000000 bytes",
        ),
    ],
)
def test_safetensors_header_refuses_crafted_files(tmp_path, content, reason):
    (tmp_path / "x").write_bytes(content() if callable(content) else content)
    with pytest.raises(ValueError, match=reason):
        fileio.safetensors_header(tmp_path / "x")
