"""Training checkpoints: one file, replaced in one rename, that knows which run it belongs to.

A checkpoint is the single file ``checkpoint.safetensors`` in the checkpoint folder. Its tensors
are the model's weights, the best weights so far and the optimizer's moments; its safetensors
metadata (strings) holds everything else:

``format``, ``version``
    ``hourglass-checkpoint``, :data:`VERSION`.
``epoch``
    The epoch the file was written after, repeated outside ``state`` and cross-checked on load.
``state``
    JSON: epoch, best loss, epochs without improvement, optimizer groups, scheduler, history,
    training config.
``run``
    JSON: the fingerprint of the run (:func:`run_fingerprint`): data, estimator parameters, seed.
``digest``
    BLAKE2b of every tensor's name, dtype, shape and bytes, checked on load.
``state_digest``
    BLAKE2b of ``epoch``, ``state`` and ``run``, checked on load: an edited best loss or
    learning rate would resume silently into another run. (A file written before it existed
    has none, and is checked by its tensors alone.)

The file is written beside its final name and renamed onto it (:func:`hourglass.data.fileio.atomic_path`),
so a kill at any instant leaves the previous epoch's checkpoint or the new one, never a mix; the
epoch and digest checks refuse a file that was altered or assembled from two runs anyway.

Examples
--------
>>> run = run_fingerprint(data_fingerprint(X), {"code_size": 8}, seed=0)  # doctest: +SKIP
>>> check_run("m.checkpoint", run)  # raises ModelFileError naming what differs  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from hourglass.data.fileio import atomic_path, safetensors_header
from hourglass.data.tensor_files import save_tensors
from hourglass.exceptions import InvalidInputError, ModelFileError
from hourglass.runtime import distributed

if TYPE_CHECKING:
    from hourglass.data.sources import TrainingSource

CHECKPOINT_FILE = "checkpoint.safetensors"
#: The state file of the two-file checkpoints written before this format; never trusted now.
LEGACY_STATE_FILE = "checkpoint.json"
FORMAT = "hourglass-checkpoint"
VERSION = 2
#: Arrays up to this size are hashed whole; larger ones by a fixed sample of rows.
HASH_WHOLE_BYTES = 64 * 2**20
SAMPLE_ROWS = 256
#: Bytes of items a source reads at a time to hash them whole (:func:`source_fingerprint`).
HASH_BLOCK_BYTES = 8 * 2**20
#: Parameters that do not change what a run computes, so resuming may change them: ``threads``
#: changes sums' rounding order at most, and a run started on more CPUs than are free now
#: could otherwise never be resumed.
IGNORED_PARAMS = ("checkpoint_dir", "verbose", "device", "callbacks", "threads")

#: How to start over, in a caller's words: the estimator's here; the command line's flags
#: (:data:`START_OVER_FLAGS`) replace them in its messages (``flags_in_errors``).
START_OVER = "start over: fit without resume=True"
START_OVER_FLAGS = "start over with --force instead of --resume"


def _shape_text(shape) -> str:
    return "x".join(str(s) for s in shape)


def data_fingerprint(X: np.ndarray, n_samples: int | None = None) -> dict[str, Any]:
    """Shape, dtype and a hash of ``X``: whole up to :data:`HASH_WHOLE_BYTES`, else a fixed sample of rows.

    Parameters
    ----------
    X : ndarray
        The training data (or, for data read lazily, a fixed sample of it).
    n_samples : int, optional
        The number of samples when ``X`` is only a sample of them.
    """
    X = np.ascontiguousarray(X)
    digest = hashlib.blake2b(digest_size=16)
    if X.nbytes <= HASH_WHOLE_BYTES or X.ndim == 0:
        digest.update(X.data if X.ndim else X.tobytes())  # the buffer itself: no copy of the data
    else:
        rows = _sample_rows(len(X))
        digest.update(rows.tobytes())
        digest.update(np.ascontiguousarray(X[rows]).tobytes())
    shape = list(X.shape) if n_samples is None else [int(n_samples), *X.shape[1:]]
    return {"shape": [int(s) for s in shape], "dtype": str(X.dtype), "hash": digest.hexdigest()}


def _sample_rows(n: int) -> np.ndarray:
    """The rows hashed of data over :data:`HASH_WHOLE_BYTES`: :data:`SAMPLE_ROWS`, evenly spaced."""
    return np.unique(np.linspace(0, n - 1, num=SAMPLE_ROWS).astype(np.int64))


def source_fingerprint(source: TrainingSource) -> dict[str, Any]:
    """:func:`data_fingerprint` of the items a training source reads, whatever holds them.

    The items are hashed as training reads them (float32), by the same rule for every source:
    all of them, read in blocks, up to :data:`HASH_WHOLE_BYTES`; beyond, the same fixed sample
    of rows. So an array in memory, the ``.npy`` file it was saved to (read in or streamed) and
    a Dataset of the same values have one fingerprint, a resume is refused for changed data
    whatever its input type, and accepted for the same data given another way. Blocks hashed
    in order give the hash of the whole buffer: an array's fingerprint is the one
    :func:`data_fingerprint` gives it, as checkpoints written before this function recorded.
    """
    n, shape = len(source), tuple(int(s) for s in source.sample_shape)
    row_bytes = 4 * math.prod(shape)  # float32
    digest = hashlib.blake2b(digest_size=16)
    with np.errstate(over="ignore"):  # float64 beyond float32: the fit refuses it after this
        _hash_items(source, digest, n, row_bytes)
    return {"shape": [n, *shape], "dtype": "float32", "hash": digest.hexdigest()}


def _hash_items(source: TrainingSource, digest: Any, n: int, row_bytes: int) -> None:
    """Feed ``digest`` the ``n`` items of ``source`` (rows of ``row_bytes``), whole or sampled."""
    if n * row_bytes <= HASH_WHOLE_BYTES:
        rows = max(1, HASH_BLOCK_BYTES // max(1, row_bytes))
        for start in range(0, n, rows):
            block = source.read(np.arange(start, min(n, start + rows), dtype=np.int64))
            digest.update(np.ascontiguousarray(block, dtype=np.float32).data)
    else:
        picks = _sample_rows(n)
        digest.update(picks.tobytes())
        digest.update(np.ascontiguousarray(source.read(picks), dtype=np.float32).data)


def run_fingerprint(data: dict[str, Any], params: dict[str, Any], seed: int) -> dict[str, Any]:
    """What makes two runs the same: the data's fingerprint, the parameters (JSON), the seed."""
    kept = {k: v for k, v in params.items() if k not in IGNORED_PARAMS}
    return {"data": data, "params": json.loads(json.dumps(kept, default=repr)), "seed": int(seed)}


def _schedule_kind(params: dict[str, Any]) -> str:
    """Which schedule a run's parameters give: planned as it goes (``epochs='auto'`` or a time
    budget) or fixed. A resumed run may change its time budget (more time for an interrupted run,
    as Lightning's ``max_time``) as long as the schedule stays of the same kind: the plan is in
    the checkpoint and is laid over the new budget from the next epoch on."""
    return "planned" if params.get("epochs") == "auto" or params.get("max_time") is not None else "fixed"


def _differences(saved: dict[str, Any], current: dict[str, Any], strict: bool = False) -> list[str]:
    """What differs between two run fingerprints, in words: ``data differs: 1797x64 -> 5000x64``.

    A resume may change the time budget of a run whose schedule it keeps, and give the seed it
    drew as ``random_state=None``; ``strict`` (processes of one torchrun job, whose seeds are
    already rank 0's) names those too, where they read as "other settings".
    """
    out = []
    old, new = saved.get("data", {}), current.get("data", {})
    if old != new:
        a, b = _shape_text(old.get("shape", [])), _shape_text(new.get("shape", []))
        if a == b and old.get("dtype") != new.get("dtype"):
            a, b = f"{a} {old.get('dtype')}", f"{b} {new.get('dtype')}"
        out.append(f"data differs: {a} -> {b}" if a != b else f"data differs: same shape {a}, other values")
    old_params, new_params = saved.get("params", {}), current.get("params", {})
    same_seed = saved.get("seed") == current.get("seed")
    changed = [
        f"{name} {old_params.get(name)!r} -> {new_params.get(name)!r}"
        for name in sorted(set(old_params) | set(new_params))
        if old_params.get(name) != new_params.get(name)
        and not (
            not strict and name == "max_time" and _schedule_kind(old_params) == _schedule_kind(new_params)
        )
        # The seed a run used is what matters: None resumed with the seed it drew, or a
        # RandomState (recorded as None before its seed was) that draws the same one, is this run.
        and not (not strict and name == "random_state" and same_seed)
    ]
    if changed:
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        out.append("parameters differ: " + ", ".join(changed[:4]) + more)
    if saved.get("seed") != current.get("seed"):
        out.append(f"seed differs: {saved.get('seed')} -> {current.get('seed')}")
    return out


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _state_digest(metadata: dict[str, str]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for key in ("epoch", "state", "run"):
        digest.update(f"{key}|{len(metadata.get(key, ''))}|{metadata.get(key, '')}|".encode())
    return digest.hexdigest()


def _file(directory: str | Path) -> Path:
    return Path(directory) / CHECKPOINT_FILE


def save(
    directory: str | Path,
    epoch: int,
    tensors: dict[str, torch.Tensor],
    state: dict[str, Any],
    run: dict[str, Any] | None = None,
) -> Path:
    """Write the checkpoint of ``epoch`` into ``directory`` atomically; return the file.

    ``state`` must be JSON-serialisable (tensors in it become lists).

    Raises
    ------
    OutputError
        If the file cannot be written (disk full, ``ulimit -f``), naming it; the previous epoch's
        checkpoint stays, and a folder made for this one is removed again.
    """
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = {
        "format": FORMAT,
        "version": str(VERSION),
        "epoch": str(int(epoch)),
        "state": json.dumps({**state, "epoch": int(epoch)}, default=_json_default),
        "run": json.dumps(run),
        "digest": _digest(tensors),
    }
    metadata["state_digest"] = _state_digest(metadata)
    directory = Path(directory)
    with atomic_path(_file(directory)) as tmp:  # it makes the folder, and removes it again on failure
        save_tensors(tensors, tmp, metadata=metadata)
    legacy = directory / LEGACY_STATE_FILE
    if legacy.exists():
        legacy.unlink()  # an old run's state; this run's file replaced its tensors
    return _file(directory)


def foreign_files(directory: str | Path) -> list[str]:
    """Names in a checkpoint folder that no checkpoint writes (a user's notes): the folder is
    removed whole once the model is saved, so they must not be in it.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / CHECKPOINT_FILE).write_bytes(b""), (folder / "notes.txt").write_text("mine")
    >>> foreign_files(folder)
    ['notes.txt']
    """
    ours = {CHECKPOINT_FILE, LEGACY_STATE_FILE}
    # Hidden names are the atomic writes' temporaries (.checkpoint.safetensors.hg-PID-...).
    return sorted(
        p.name for p in Path(directory).iterdir() if p.name not in ours and not p.name.startswith(".")
    )


def _unreadable(directory: Path, reason: str) -> ModelFileError:
    return ModelFileError(
        f"checkpoint in {str(directory)!r} is unreadable ({reason}) and cannot be resumed; {START_OVER}"
    )


def read_header(directory: str | Path) -> dict[str, Any]:
    """The checkpoint's metadata (``epoch``, ``state`` and ``run`` parsed), without reading its tensors.

    Raises
    ------
    ModelFileError
        If there is no checkpoint, it is of the older two-file kind, or its header is not one of
        a checkpoint.
    """
    directory = Path(directory)
    path = _file(directory)
    if (directory / LEGACY_STATE_FILE).exists():
        raise ModelFileError(
            f"checkpoint in {str(directory)!r} was written by an older hourglass (two files, which a "
            f"kill can leave mismatched) and is not trusted; {START_OVER}"
        )
    if not path.exists():
        raise ModelFileError(f"no checkpoint to resume from in {str(directory)!r}")
    try:
        metadata, _ = safetensors_header(path)
    except (OSError, ValueError) as exc:
        raise _unreadable(directory, str(exc)) from None
    if metadata.get("format") != FORMAT or metadata.get("version") != str(VERSION):
        raise _unreadable(directory, "not an hourglass checkpoint of this version")
    try:
        epoch = int(metadata["epoch"])
        state = json.loads(metadata["state"])
        run = json.loads(metadata["run"])
    except (KeyError, ValueError, RecursionError):
        raise _unreadable(directory, "malformed metadata") from None
    if not isinstance(state, dict) or state.get("epoch") != epoch or epoch < 1:
        raise _unreadable(directory, f"the state is of epoch {state.get('epoch')}, the tensors of {epoch}")
    if run is not None and not isinstance(run, dict):
        raise _unreadable(directory, "malformed run fingerprint")
    if "state_digest" in metadata and metadata["state_digest"] != _state_digest(metadata):
        raise _unreadable(directory, "its state does not match its recorded digest")
    return {**metadata, "epoch": epoch, "state": state, "run": run}


def check_run(directory: str | Path, run: dict[str, Any] | None) -> dict[str, Any]:
    """Raise ModelFileError unless the checkpoint in ``directory`` is of ``run``; return its header."""
    header = read_header(directory)
    if run is None:
        return header
    saved = header["run"]
    if saved is None:
        raise ModelFileError(
            f"checkpoint in {str(directory)!r} does not record which run it belongs to; {START_OVER}"
        )
    differences = _differences(saved, run)
    if differences:
        raise ModelFileError(
            f"checkpoint in {str(directory)!r} is of another run ({'; '.join(differences)}); resume with "
            f"the interrupted run's data and settings, or {START_OVER}"
        )
    return header


def check_same_run(run: dict[str, Any] | None) -> None:
    """Under torchrun, refuse a run whose processes were given different data or settings.

    Each process reads its own command line and files: one given another file or ``--epochs``
    mixed data silently (same shape), or failed deep in the gradient exchange (another width: an
    "internal error" of DDP; another length: gloo's connection reset). Compared once, before any
    other exchange, in words (:func:`_differences`), the same error on every process.
    """
    if run is None:
        return
    runs = distributed.gather(run)
    for rank, other in enumerate(runs[1:], start=1):
        if other != runs[0]:
            differences = "; ".join(_differences(runs[0], other, strict=True)) or "other settings"
            raise distributed.every_process(
                InvalidInputError(
                    f"the processes under torchrun were given different runs (rank 0 -> rank {rank}: "
                    f"{differences}); start every process with the same data and settings"
                )
            )


def saved_seed(directory: str | Path) -> int | None:
    """The seed recorded by the checkpoint in ``directory``, or None when there is none to read."""
    try:
        run = read_header(directory)["run"] or {}
    except ModelFileError:
        return None
    seed = run.get("seed")
    return seed if isinstance(seed, int) else None


def load(directory: str | Path, run: dict[str, Any] | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and state of the checkpoint in ``directory``, after checking it whole.

    Parameters
    ----------
    directory : str or Path
        The checkpoint folder.
    run : dict, optional
        The fingerprint of the run about to resume; the checkpoint must record the same.

    Raises
    ------
    ModelFileError
        If the checkpoint is missing, torn, altered, of an older kind, or of another run.
    """
    directory = Path(directory)
    header = check_run(directory, run)
    try:
        tensors = load_file(str(_file(directory)))
    except (OSError, SafetensorError, ValueError) as exc:
        raise _unreadable(directory, " ".join(str(exc).split())[:200]) from None
    if _digest(tensors) != header.get("digest"):
        raise _unreadable(directory, "its tensors do not match their recorded digest")
    state = header["state"]
    if state.get("best_loss") is None:
        state["best_loss"] = math.inf
    return tensors, state


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "__dict__"):
        return value.__dict__
    raise TypeError(f"cannot save {type(value).__name__} in a checkpoint")
