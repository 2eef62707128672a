"""Every output path that cannot be written gets its own true, one-line reason.

A virtual file system (``/proc``), a path under a regular file, a folder this user may not write
(as ``nobody`` when the tests run as root), a missing folder under such a one, and a read-only
mount (a bind mount in a private mount namespace, where ``unshare`` allows one).
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import assert_one_line_error, run
from hourglass.data.fileio import check_writable
from hourglass.exceptions import OutputError

SRC = Path(__file__).parents[1] / "src"
NOBODY = 65534


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9\n")
    return path


def _on_proc() -> bool:
    return os.path.ismount("/proc") and os.path.isdir("/proc/self")


@pytest.mark.parametrize(
    "where, reason",
    [
        pytest.param("/proc/m", "'/proc' is on the kernel's proc file system", marks=pytest.mark.skipif(
            not _on_proc(), reason="no /proc here")),
        pytest.param("/proc/new/deeper/m", "'/proc' is on the kernel's proc", marks=pytest.mark.skipif(
            not _on_proc(), reason="no /proc here")),
        ("{tmp}/ok.csv/m", "is a file, not a folder"),
        ("{tmp}/ok.csv/deeper/m", "is a file, not a folder"),
    ],
)  # fmt: skip
def test_fit_names_the_true_reason_an_output_cannot_be_written(table, where, reason):
    code, out, err = run(
        "fit", table, "-o", where.format(tmp=table.parent), "--code-size", "1", "--epochs", "1"
    )
    assert_one_line_error(code, out, err, reason)
    assert "No such file or directory" not in err


def _shared_folder() -> Path:
    """A folder in /tmp that another user can enter (pytest's tmp_path is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="hg-paths-"))
    folder.chmod(0o755)
    return folder


#: Runs the CLI in a process of its own, as another user when asked. The interpreter (and its
#: standard library) may live where that user cannot read (/root/.pyenv), so the command is run
#: once first as we are, into an output that exists, which imports what it needs and stops.
_AS_USER = """
import contextlib, io, os, sys
from hourglass.cli import main
uid, argv = int(sys.argv[1]), sys.argv[2:]
with contextlib.redirect_stderr(io.StringIO()):
    main([*argv[:argv.index("-o") + 1], os.getcwd(), *argv[argv.index("-o") + 2:]])
if uid >= 0:
    os.setgid(uid)
    os.setuid(uid)
sys.exit(main(argv))
"""


def _cli_as(argv: list, uid: int | None = None, wrapper: list | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC), "MPLCONFIGDIR": tempfile.gettempdir()}
    command = [
        *(wrapper or []),
        sys.executable,
        "-c",
        _AS_USER,
        str(-1 if uid is None else uid),
        *map(str, argv),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, cwd=tempfile.gettempdir()
    )


@pytest.mark.parametrize(
    "output, reason",
    [
        ("locked/m", "Permission denied: this user may not create files in"),
        ("locked/new/deeper/m", "Permission denied: this user may not create files in"),
    ],
)
def test_a_folder_this_user_may_not_write_is_named_as_such(output, reason):
    if os.geteuid() != 0 and not hasattr(os, "setuid"):
        pytest.skip("cannot run as another user here")
    folder = _shared_folder()
    try:
        (folder / "ok.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9\n")
        (folder / "ok.csv").chmod(0o644)
        (folder / "locked").mkdir(mode=0o555)
        (folder / "locked").chmod(0o555)  # the umask may have taken bits away; none are added
        uid = NOBODY if os.geteuid() == 0 else None  # root may write anywhere: be nobody
        done = _cli_as(["fit", folder / "ok.csv", "-o", folder / output, "--code-size", "1"], uid=uid)
        assert_one_line_error(done.returncode, done.stdout, done.stderr, reason, "locked")
        assert "mode 555" in done.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _can_mount_read_only(folder: Path) -> bool:
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && "
                            f"mount -o remount,bind,ro {folder}"], capture_output=True)  # fmt: skip
    return probe.returncode == 0


def test_a_read_only_file_system_is_named_as_such():
    folder = _shared_folder()
    try:
        (folder / "ok.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9\n")
        if shutil.which("unshare") is None or not _can_mount_read_only(folder):
            pytest.skip("no private mount namespace here (unshare -m needs CAP_SYS_ADMIN)")
        mount = f'mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec "$@"'
        done = _cli_as(["fit", folder / "ok.csv", "-o", folder / "m", "--code-size", "1"],
                       wrapper=["unshare", "-m", "sh", "-c", mount, "sh"])  # fmt: skip
        assert_one_line_error(done.returncode, done.stdout, done.stderr, "is on a read-only file system")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    "errno_name, reason", [("ENOSPC", "is full"), ("EDQUOT", "quota"), ("EROFS", "read-only")]
)
def test_each_refusal_code_gets_its_own_words(tmp_path, monkeypatch, errno_name, reason):
    import errno

    def refuse(*args, **kwargs):
        raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match=reason):
        check_writable(tmp_path / "out.npy")
