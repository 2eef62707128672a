"""Writing safetensors files: with the mode every other output gets, and failures as plain OSErrors.

``safetensors.torch.save_file`` (0.8 at least) writes a temporary file of its own, created with mode
0600, and renames it onto the name it was given: the file ends up readable by its owner alone,
whatever the umask says, unlike every other file hourglass writes. It reports a failed write
(a full disk, ``ulimit -f``) as a ``SafetensorError`` that names no file. :func:`save_tensors`
gives the file the mode a file created with ``open`` gets, and turns such a failure into an
``OSError`` naming the file, which :func:`hourglass.data.fileio.atomic_path` reports as the
output that cannot be written.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import save_file


def _os_error(exc: SafetensorError, path: Path) -> OSError | None:
    """The OSError behind a SafetensorError from writing ``path``; None when it was none."""
    text = " ".join(str(exc).split())
    code = re.search(r"os error (\d+)", text)
    if code:
        return OSError(int(code.group(1)), os.strerror(int(code.group(1))), str(path))
    if "I/O error" in text:  # an error of the writer itself, such as "failed to write whole buffer"
        return OSError(errno.EIO, text.split("I/O error: ", 1)[-1], str(path))
    return None


def save_tensors(tensors, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (name to contiguous CPU tensor) to the safetensors file ``path``.

    Parameters
    ----------
    tensors : dict of str to torch.Tensor
        What to write.
    path : str or Path
        The file; call this inside :func:`~hourglass.data.fileio.atomic_path` for a write that a
        kill cannot tear.
    metadata : dict of str to str, optional
        The file's metadata.

    Raises
    ------
    OSError
        If the file cannot be written, naming ``path``; nothing is left at ``path`` then.
    """
    path = Path(path)
    # The file created here shows the mode `open` gives (umask, a folder's default ACL); the
    # writer's 0600 file replaces it and then gets that mode.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        mode = os.fstat(fd).st_mode & 0o7777
    finally:
        os.close(fd)
    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as exc:
        path.unlink(missing_ok=True)
        error = _os_error(exc, path)
        if error is None:
            raise  # not a failed write: a bug in what was passed
        raise error from None
    except OSError as exc:
        path.unlink(missing_ok=True)
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise
    try:
        os.chmod(path, mode)
    except OSError:
        pass  # a file system without modes (vfat, some network ones): the data is written all the same
