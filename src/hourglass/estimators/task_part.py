"""The task part of a convolutional estimator: run its task on the user's data, and judge it.

:class:`TaskPart` holds the methods of :class:`~hourglass.ConvAutoEncoder` that exist because
of its ``task``: :meth:`~TaskPart.apply` and :meth:`~TaskPart.apply_image` run the network on
what the user gives (tile by tile for images of any size), the task summary and report sections
judge it against the task's classical baselines (:mod:`hourglass.uses.restoration`). Each asks
the task object (:func:`hourglass.train.tasks.task_of`) what to do; none reads the task's name.
What an exported model's input is, the task object tells :mod:`hourglass.estimators.export`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from hourglass.data.loading import check_finite
from hourglass.data.tiling import process_tiled
from hourglass.estimators.inputs.grid_checks import warn_if_bytes_for_unit_data
from hourglass.estimators.predicting import output_dtype, reconstruction, run_batches
from hourglass.exceptions import InvalidInputError
from hourglass.train import restoration
from hourglass.train.tasks import task_of


def network_output(est: Any, inputs: np.ndarray) -> np.ndarray:
    """``est``'s trained network on task inputs ``(n, *input_shape_)`` in data units."""
    scaled = est.scaler_.transform(np.asarray(inputs, np.float32))
    out = run_batches(est, reconstruction(est.module_), scaled)
    return est.scaler_.inverse_transform(out)


def task_input(est: Any, X: np.ndarray) -> np.ndarray:
    """What ``est``'s network expects for the user's ``(n, c, ...)`` input to ``apply``."""
    t = torch.from_numpy(np.array(X, dtype=np.float32))  # a writable copy, also of a memory map
    return task_of(est).network_input(t).numpy()


class TaskPart:
    """The public methods a convolutional estimator has for its task (a mixin before the base class).

    They read the estimator's fitted ``module_``, ``scaler_`` and ``input_shape_``, and its
    ``_input()`` (its grid part reads paths); the network and the task's input come from
    :func:`network_output` and :func:`task_input`.
    """

    def apply(self, X: Any, self_ensemble: bool = False) -> np.ndarray:
        """Run the task on ``X`` in data units: denoise, colorize, super-resolve or inpaint it.

        Parameters
        ----------
        X : array-like of shape (n, c, ...) or a path
            Noisy images (denoise), gray or colour images whose luminance is used (colorize),
            low-resolution images (super_resolve: the output is ``scale_factor`` times larger),
            images with holes (inpaint) or any input (reconstruct). Images whose size differs
            from the training size are processed tile by tile (:meth:`apply_image`).
        self_ensemble : bool, default=False
            Images only: average over their eight flips and quarter turns, as in
            :meth:`apply_image`.

        Returns
        -------
        ndarray of shape (n, c_out, ...)

        Examples
        --------
        >>> sr = hourglass.ConvAutoEncoder(task="super_resolve").fit(patches)  # doctest: +SKIP
        >>> sr.apply(low_res).shape[-1] == 2 * low_res.shape[-1]     # doctest: +SKIP
        True
        """
        check_is_fitted(self, "module_")
        data = np.asarray(self._input().load(self, X))
        # Bytes given to a model of [0, 1] pixels come out saturated (all ones), as in reconstruct.
        warn_if_bytes_for_unit_data(self, data)
        data = data.astype(np.float32, copy=False)
        if data.ndim == len(self.input_shape_) and self.input_shape_[0] == 1:
            data = data[:, None]
        data = check_finite(data, "X")
        inputs = task_input(self, data)
        if self_ensemble and inputs.ndim != 4:
            raise InvalidInputError(
                "self_ensemble=True needs images (n, c, h, w); X has samples of shape "
                f"{tuple(data.shape[1:])}"
            )
        if tuple(inputs.shape[1:]) == self.input_shape_ and not self_ensemble:
            return network_output(self, inputs).astype(output_dtype(X), copy=False)
        if inputs.ndim != 4:
            raise InvalidInputError(
                f"X has samples of shape {tuple(data.shape[1:])}; this model needs {self.input_shape_} "
                "(only images of another size are tiled)"
            )
        results = [self._apply_image(img, self_ensemble=self_ensemble) for img in data]
        return np.stack(results).astype(output_dtype(X), copy=False)

    def apply_image(
        self, image: Any, overlap: float = 0.5, batch_size: int = 32, self_ensemble: bool = False
    ) -> np.ndarray:
        """Run the task on one image ``(c, h, w)`` or ``(h, w)`` of any size, in overlapping tiles.

        Parameters
        ----------
        image : ndarray
            In data units (pixels in [0, 1] for photos). For super_resolve, the low-resolution
            image; the result is ``scale_factor`` times larger.
        overlap : float, default=0.5
            Share of a tile its neighbours overlap; tiles are blended with a smooth window.
        batch_size : int, default=32
        self_ensemble : bool, default=False
            Average the results for the eight flips and quarter turns of the image, each turned
            back (the "geometric self-ensemble" of Timofte et al. 2016 and EDSR+): a restoration
            network is not exactly equivariant to them, and its errors partly cancel. Eight
            times the work for typically 0.1-0.2 dB PSNR.

        Returns
        -------
        ndarray of shape (c_out, H, W), float32

        Examples
        --------
        >>> photo = hourglass.data.images.load_image("noisy.jpg")  # doctest: +SKIP
        >>> clean = denoiser.apply_image(photo)               # doctest: +SKIP
        """
        check_is_fitted(self, "module_")
        img = np.asarray(image)
        warn_if_bytes_for_unit_data(self, img, name="image")
        return self._apply_image(img, overlap, batch_size, self_ensemble)

    def _apply_image(
        self, image: np.ndarray, overlap: float = 0.5, batch_size: int = 32, self_ensemble: bool = False
    ) -> np.ndarray:
        """:meth:`apply_image` without the check of its pixels' units (:meth:`apply` made it)."""
        if len(self.input_shape_) != 3:
            raise InvalidInputError(
                f"apply_image needs a model of images; this one takes {self.input_shape_}"
            )
        img = image.astype(np.float32, copy=False)
        img = img[None] if img.ndim == 2 else img
        if img.ndim != 3:
            raise InvalidInputError(f"image has shape {img.shape}; expected (c, h, w) or (h, w)")
        if not task_of(self).any_channels and img.shape[0] != self.input_shape_[0]:
            # PIL, imageio and scikit-image give (h, w, c): say so, not "512 channel(s)".
            last = img.shape[2] == self.input_shape_[0] and img.shape[0] > img.shape[2]
            raise InvalidInputError(
                f"image has shape {img.shape}, channels last; this model reads channels first (c, h, w): "
                "pass np.moveaxis(image, -1, 0)"
                if last
                else f"image has {img.shape[0]} channel(s); this model was fitted on {self.input_shape_[0]}"
            )
        inputs = task_input(self, check_finite(img, "image")[None])[0]

        def network(tiles: np.ndarray) -> np.ndarray:
            return network_output(self, tiles)

        def run(x: np.ndarray) -> np.ndarray:
            return process_tiled(network, np.ascontiguousarray(x), self.input_shape_[1:], overlap, batch_size)

        if not self_ensemble:
            return run(inputs)
        total = np.zeros((self.input_shape_[0], *inputs.shape[1:]), np.float64)
        for turns in range(4):
            for flip in (False, True):
                x = np.rot90(inputs, turns, axes=(1, 2))
                y = run(x[:, :, ::-1] if flip else x)
                total += np.rot90(y[:, :, ::-1] if flip else y, -turns, axes=(1, 2))
        return (total / 8).astype(np.float32)

    # -- the task against its classical baselines (hourglass.train.restoration) ---------------
    def task_panels(self, X: Any, seed: int = 0) -> dict[str, np.ndarray]:
        """Input / baselines / autoencoder / truth for clean images ``X``, corrupted like in training.

        Returns a dict of ``(n, c, h, w)`` arrays in data units: 'input' (what the network
        sees), one entry per classical baseline (:func:`hourglass.uses.restoration.baselines`),
        'autoencoder' and 'truth'. See :func:`hourglass.uses.restoration.task_panels`.
        """
        return restoration.task_panels(self, X, seed)

    def task_summary(self, X: Any, data_role: str = "training") -> dict[str, float]:
        """The task's headline on images ``X``: the autoencoder's PSNR against its classical baseline.

        Parameters
        ----------
        X : array-like of shape (n, c, h, w)
            Clean images, corrupted as in training (up to 64 of them, spread over ``X``).
        data_role : {'training', 'held-out'}, default='training'
            Whether the model trained on ``X``; every label says so.

        Returns
        -------
        dict
            As :func:`hourglass.uses.restoration.task_summary` gives it.

        Examples
        --------
        >>> denoiser.task_summary(held_out_patches, "held-out")  # doctest: +SKIP
        {'autoencoder PSNR, held-out data (dB)': 31.2, 'non-local means PSNR (dB)': 30.1, ...}
        """
        return restoration.task_summary(self, X, data_role)


__all__ = ["TaskPart", "network_output", "task_input"]
