"""Files: writes that a kill cannot tear, and safetensors headers read cheaply.

Atomic writes
    :func:`atomic_path` yields a temporary name beside the target; on success it is renamed onto
    the target, so a reader (or a process killed at any instant) sees the old file or the new
    one, never half of one. A *folder* cannot be replaced by a plain rename, so on Linux the new
    folder and the old one are swapped in one step by ``renameat2(RENAME_EXCHANGE)``: at every
    instant the name holds the complete old folder or the complete new one. Where the call is
    missing (other systems, old kernels, file systems without it) the old folder is renamed aside
    and the new one renamed in: two renames, so a kill between them leaves the target missing
    and the old folder under the hidden name ``.NAME.hg-PID-*.tmp`` (which
    :func:`interrupted_swap` finds, so loading can say where it is). Temporaries carry the
    writer's pid; the next write to the same name removes those of writers that no longer run,
    so a kill leaves no hidden folder behind for long.

The lock that keeps two runs off one output is in :mod:`hourglass.data.locks`.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hourglass.exceptions import OutputError, OutputExistsError

#: Largest safetensors header read (JSON describing the tensors): a real one for thousands of
#: tensors is a few hundred KB; a crafted one could otherwise make the reader parse gigabytes.
MAX_HEADER_BYTES = 16 * 2**20

_TEMP_MARK = ".hg-"  # temporaries are named .NAME.hg-PID-RANDOM.tmp[SUFFIX]
_ASIDE = ".old"  # suffix of an old folder moved aside by the two-rename fallback
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


#: File systems the kernel makes up (their "files" are views of its state): they accept no file of
#: ours, and say so with misleading codes ("No such file or directory" for /proc).
_VIRTUAL_FILE_SYSTEMS = {
    "proc", "sysfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "pstore",
    "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "binfmt_misc", "autofs", "efivarfs",
}  # fmt: skip


def _file_system(folder: Path) -> str | None:
    """The type of the file system ``folder`` is on (``'proc'``, ``'ext4'``), from the mount table."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            mounts = [line.split()[:3] for line in f]
    except OSError:
        return None
    folder_text = os.path.realpath(folder)
    best, kind = "", None
    for _, point, fs in (m for m in mounts if len(m) == 3):
        point = point.replace("\\040", " ")
        inside = folder_text == point or folder_text.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fs
    return kind


def _owner(folder: Path) -> str:
    try:
        import pwd

        info = os.stat(folder)
        return f"owned by {pwd.getpwuid(info.st_uid).pw_name}, mode {info.st_mode & 0o777:o}"
    except (OSError, KeyError, ImportError):
        return "not yours"


def write_refusal(folder: str | Path, exc: OSError) -> str:
    """Why the existing folder ``folder`` refused a new file with ``exc``, in words that are true.

    The system's code alone can mislead: creating a file in ``/proc`` fails with "No such file
    or directory" although ``/proc`` exists. The file system and the folder's permissions say
    what is really wrong.

    Examples
    --------
    >>> write_refusal("/proc", FileNotFoundError(errno.ENOENT, "No such file or directory"))  # doctest: +SKIP
    "'/proc' is on the kernel's proc file system, which holds no files of ours"
    """
    folder = Path(folder)
    code = exc.errno
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    kind = _file_system(folder)
    if code == errno.EROFS or read_only:
        return f"{str(folder)!r} is on a read-only file system ({kind or 'mounted read-only'})"
    if kind in _VIRTUAL_FILE_SYSTEMS:
        return f"{str(folder)!r} is on the kernel's {kind} file system, which holds no files of ours"
    if code in (errno.EACCES, errno.EPERM):
        return f"Permission denied: this user may not create files in {str(folder)!r} ({_owner(folder)})"
    if code == errno.ENOSPC:
        return f"the file system holding {str(folder)!r} is full"
    if code == errno.EDQUOT:
        return f"the disk quota of this user on {str(folder)!r} is used up"
    if code == errno.ENOTDIR:
        return f"{str(folder)!r} is not a folder"
    if code == errno.EFBIG:  # the file was made; it grew past `ulimit -f` or what the file system holds
        return exc.strerror or "File too large"
    return f"{str(folder)!r} refused a new file: {exc.strerror or exc}"


def check_writable(path: str | Path, force: bool = False, file: bool = False) -> Path:
    """Return ``path`` as a Path once it is known that an output can be written there.

    Checks, before any work is done: ``path`` does not exist (unless ``force``), no ancestor of
    it is a regular file, and the closest existing folder accepts new files (probed by creating
    and removing one, which also catches read-only file systems and root-owned folders).

    Parameters
    ----------
    path : str or Path
        Where an output will be written.
    force : bool, default=False
        Allow replacing an existing file or folder.
    file : bool, default=False
        The output is a file: a folder at ``path`` is refused even with ``force``, which replaces
        a file, never a folder with one.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``force`` is False.
    OutputError
        If ``path`` lies under a regular file or in a folder that cannot be written, or, for a
        ``file``, is a folder.

    Examples
    --------
    >>> check_writable("codes.npy")  # doctest: +SKIP
    PosixPath('codes.npy')
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise OutputError(
            f"{str(path)!r} names a folder that holds other things; give the output a name of its own"
        )
    if os.path.lexists(path) and not force:
        raise OutputExistsError(f"{str(path)!r} exists already; pass force=True (--force) to overwrite it")
    if file and path.is_dir():
        # Refused before any work: the write at the end failed with "Is a directory".
        raise OutputError(
            f"{str(path)!r} is a folder, and the output written there is a file; force does not replace "
            "a folder: give the file another name or move the folder"
        )
    folder = _nearest_existing(path.parent)
    if not folder.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: {str(folder)!r} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".hourglass-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {write_refusal(folder, exc)}") from None
    return path


def make_parents(path: Path) -> list[Path]:
    """Create the missing folders above ``path``; return them, deepest first, for :func:`remove_empty`."""
    missing = []
    parent = Path(path).parent
    while not os.path.lexists(parent) and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            pass  # made by a concurrent writer: not ours to remove later
        except OSError as exc:
            reason = write_refusal(folder.parent, exc)
            raise OutputError(f"cannot create the folder {str(folder)!r}: {reason}") from None
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove the given folders, deepest first, where they are (still) empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (someone else wrote there) or gone: leave it and its parents


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # exists but belongs to someone else, or not a pid: leave its files alone
    return True


def _temporaries(path: Path) -> Iterator[tuple[Path, int]]:
    """The temporaries written for ``path`` (by any process), with the pid in their name."""
    pattern = re.compile(re.escape(f".{path.name}{_TEMP_MARK}") + r"(\d+)-")
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if match:
            yield entry, int(match.group(1))


def interrupted_swap(path: str | Path) -> Path | None:
    """When ``path`` is missing because a two-rename folder swap was interrupted, the hidden
    folder that holds its previous content (see the module docstring); None otherwise."""
    path = Path(path)
    if os.path.lexists(path):
        return None
    for entry, pid in _temporaries(path):
        if entry.name.endswith(_ASIDE) and entry.is_dir() and not _pid_alive(pid):
            return entry
    # hourglass before issue 12 moved the old folder to .NAME.old-PID
    for entry in sorted(path.parent.glob(f".{glob.escape(path.name)}.old-*")):
        if entry.is_dir():
            return entry
    return None


def _sweep(path: Path) -> None:
    """Remove temporaries of ``path`` left by writers that were killed."""
    keep_aside = not os.path.lexists(path)  # then an aside folder is the only copy of the old one
    for entry, pid in _temporaries(path):
        if pid != os.getpid() and not _pid_alive(pid) and not (keep_aside and entry.name.endswith(_ASIDE)):
            _remove(entry)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one step; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False  # no RENAME_EXCHANGE here: fall back to two renames
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(tmp: Path, path: Path) -> None:
    """Put the folder ``tmp`` at ``path``, replacing any folder there (see the module docstring)."""
    for _ in range(10):  # a concurrent writer can change what is at `path` between two calls
        if not os.path.lexists(path):
            try:
                os.rename(tmp, path)
                return
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                continue  # another writer got there first: replace theirs
        if _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder
            return
        aside = tmp.with_name(tmp.name + _ASIDE)
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            continue
        os.rename(tmp, path)
        shutil.rmtree(aside, ignore_errors=True)
        return
    raise OutputError(f"cannot replace {str(path)!r}: other processes keep writing it")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Works for a file or a folder: the caller writes whatever it likes at the yielded path. On
    error the temporary is removed, ``path`` is left untouched, and folders made to hold it are
    removed again; an OSError of writing (disk full, ``ulimit -f``) becomes an OutputError naming ``path``.

    Examples
    --------
    >>> with atomic_path("out.npy") as tmp:  # doctest: +SKIP
    ...     np.save(tmp, array)
    """
    path = Path(path)
    created = make_parents(path)
    _sweep(path)
    # The temporary name keeps the suffix, since some writers (np.save) append one otherwise.
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}{_TEMP_MARK}{os.getpid()}-", suffix=f".tmp{path.suffix}", dir=path.parent
        )
    except OSError as exc:
        remove_empty(created)
        raise OutputError(f"cannot write {str(path)!r}: {write_refusal(path.parent, exc)}") from None
    os.close(fd)
    os.unlink(tmp_name)
    tmp = Path(tmp_name)
    done = False
    try:
        yield tmp
        if tmp.is_dir() and not tmp.is_symlink():
            _swap_in(tmp, path)
        else:
            os.replace(tmp, path)
        done = True
    except OSError as exc:  # a writer's error names the temporary, or nothing (pandas): name the output
        part = os.path.relpath(exc.filename if isinstance(exc.filename, (str, os.PathLike)) else tmp, tmp)
        if isinstance(exc, (OutputError, OutputExistsError)) or part.split(os.sep)[0] == os.pardir:
            raise  # said already, or about another file (an input read while writing this one)
        reason = write_refusal(path.parent, exc)  # `part`: the file inside a folder output, if one
        raise OutputError(f"cannot write {str(path / part)!r}: {reason}") from None
    finally:
        if os.path.lexists(tmp):
            _remove(tmp)
        if not done:
            remove_empty(created)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


# -- safetensors headers ------------------------------------------------------------------------


def safetensors_header(path: str | Path) -> tuple[dict[str, str], dict[str, tuple[str, tuple[int, ...]]]]:
    """Metadata and ``{name: (dtype, shape)}`` of a safetensors file, without reading its tensors.

    Only the header (at most :data:`MAX_HEADER_BYTES`) is read; the tensors' offsets are checked
    against the file's size.

    Raises
    ------
    ValueError
        If the file is not a regular safetensors file, or its header is too large or malformed.
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError("not a regular file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ValueError("too short for a safetensors file")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise ValueError(f"header of {length} bytes in a file of {size}")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ValueError(f"malformed header ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise ValueError("malformed header")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("malformed metadata")
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    end = 0
    for name, info in header.items():
        try:
            dtype, shape, (start, stop) = info["dtype"], info["shape"], info["data_offsets"]
            valid = (
                isinstance(dtype, str)
                and isinstance(shape, list)
                and all(type(s) is int and s >= 0 for s in shape)
                and type(start) is int
                and type(stop) is int
                and 0 <= start <= stop
            )
        except (TypeError, KeyError, ValueError):
            valid = False
        if not valid:
            raise ValueError(f"malformed entry for tensor {name!r}")
        tensors[name] = (dtype, tuple(shape))
        end = max(end, stop)
    if end > size - 8 - length:
        raise ValueError(f"its tensors need {end} bytes but the file holds {size - 8 - length}")
    return metadata, tensors
