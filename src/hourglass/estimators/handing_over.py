"""The fitted model taken elsewhere: a plain PyTorch module, an ONNX file, a model folder.

A mixin of :class:`~hourglass.estimators.base.BaseAutoEncoder`: the methods that hand a fitted
estimator over to another program or to disk, kept apart from fitting and using it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hourglass.estimators.export import export_onnx, to_torch
from hourglass.estimators.persistence import save_estimator
from hourglass.exceptions import InvalidInputError
from hourglass.runtime import distributed


class HandingOver:
    """``to_torch``, ``export_onnx`` and ``save`` of a fitted autoencoder estimator."""

    # -- taking the model elsewhere -----------------------------------------------------------
    def to_torch(self, part: str = "autoencoder") -> torch.nn.Module:
        """A plain PyTorch module of the fitted model, with the input scaling inside.

        It takes raw input in the units of the training data, as ``transform`` does, and returns
        plain tensors; ``torch.export.export`` and ``torch.jit.trace`` accept it, and it needs
        nothing of hourglass to run once exported. It is a CPU, float32, eval-mode copy with its
        weights frozen (``requires_grad`` False, as for inference): the estimator stays as it
        is, and fine-tuning it in a plain loop starts with ``module.train().requires_grad_(True)``.

        Parameters
        ----------
        part : {'autoencoder', 'encoder', 'decoder'}, default='autoencoder'
            'encoder': input ``(batch, *input_shape)`` -> code ``(batch, code_size)``, as
            :meth:`transform`; 'decoder': code -> reconstruction in the data's units, as
            :meth:`inverse_transform`; 'autoencoder': input -> ``(code, reconstruction)``, the
            reconstruction as :meth:`reconstruct` gives it (for a restoration task, as
            ``apply`` gives it on inputs of the training size).

        Returns
        -------
        torch.nn.Module

        Notes
        -----
        The network's deterministic pieces come from :mod:`hourglass.estimators.export`, each
        a module in the network's scaled units: the encoder (input -> code; a sampled code's
        mean), the decoder (code shaped ``_code_shape()`` -> activated reconstruction) and the
        autoencoder, which chains them unless the network's output is more than
        ``decode(encode(x))`` (a restoration model adds its input back); the task object
        (:func:`hourglass.train.tasks.task_of`) says what a restoration model's input is. The
        scaling, the names, the checks and the ONNX writing are shared by every estimator.

        Examples
        --------
        >>> module = ae.to_torch("encoder")                        # doctest: +SKIP
        >>> module(torch.from_numpy(X[:5].astype("float32"))).shape  # doctest: +SKIP
        torch.Size([5, 2])
        >>> torch.export.export(module, (torch.zeros(2, X.shape[1]),))  # doctest: +SKIP
        """
        return to_torch(self, part)

    def export_onnx(self, path: str | Path, part: str = "autoencoder", force: bool = False):
        """Write the fitted model to an ONNX file that takes raw input in the data's units.

        The graph folds in the input scaling and the unscaling of the output, so onnxruntime
        gives what :meth:`transform`, :meth:`inverse_transform` and :meth:`reconstruct` give
        (to float32 rounding). Its input is named ``input`` (``code`` for the decoder), its
        outputs ``code`` and ``reconstruction``; the batch axis is dynamic, the others (features,
        or channels and spatial axes) are those of the training data. The file's
        ``metadata_props`` record the hourglass version, the estimator, the part, the code size
        and the input shape. The file is checked with onnxruntime against PyTorch before it is
        written, atomically. Needs the ``onnx`` extra: ``pip install "hourglass-ae[onnx]"``.

        Parameters
        ----------
        path : str or Path
            The ``.onnx`` file to write.
        part : {'autoencoder', 'encoder', 'decoder'}, default='autoencoder'
            As in :meth:`to_torch`.
        force : bool, default=False
            Overwrite ``path`` if it exists.

        Returns
        -------
        hourglass.estimators.export.ExportResult
            The path, part, input and output shapes, size and onnxruntime check.

        Raises
        ------
        InvalidInputError
            ``path`` does not end in ``.onnx``, or is a folder.
        ExportError
            A part the model does not have (the decoder of a model with skip connections), or a
            layer PyTorch's exporter cannot trace (a user's own module, say).
        MissingDependencyError
            onnx, onnxscript or onnxruntime is not installed.
        OutputExistsError
            ``path`` exists and ``force`` is False.

        Examples
        --------
        >>> ae.export_onnx("model.onnx")                            # doctest: +SKIP
        >>> import onnxruntime                                      # doctest: +SKIP
        >>> session = onnxruntime.InferenceSession("model.onnx")    # doctest: +SKIP
        >>> code, recon = session.run(None, {"input": X.astype("float32")})  # doctest: +SKIP
        """
        return export_onnx(self, path, part=part, force=force)

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path, force: bool = False) -> Path:
        """Save to a folder of JSON config + safetensors weights (see :func:`hourglass.load`).

        Under torchrun rank 0 writes and the others return at once (a call on rank 0 alone works
        too): ``torch.distributed.barrier()`` on every process before another reads the folder.

        Parameters
        ----------
        path : str or Path
            The model folder to write (atomically: a failed save leaves what was there).
        force : bool, default=False
            Replace an existing model folder; without it one is never overwritten.

        Returns
        -------
        Path
            The folder written.

        Raises
        ------
        OutputExistsError
            Where ``path`` exists and ``force`` is False.
        OutputError
            Where a file of it cannot be written (disk full); the folder is left as it was.
        InvalidInputError
            For an unfitted model, a ``path`` that is a file, or a model holding a user's torch
            module that a JSON config cannot rebuild.
        """
        for role in ("encoder", "decoder"):
            if isinstance(getattr(self, role, None), torch.nn.Module):
                raise InvalidInputError(
                    f"this model's {role} is a user's torch module, which a JSON config cannot rebuild; "
                    f"save it with torch.save(model.module_.state_dict(), ...) or pass {role}= a saved "
                    "hourglass model folder"
                )
        if not distributed.is_main():
            return Path(path)  # under torchrun, rank 0 writes the one copy
        return save_estimator(self, path, force=force)


__all__ = ["HandingOver"]
