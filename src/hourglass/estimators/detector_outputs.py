"""What a fitted detector passes through from its autoencoder: codes, reconstructions, layers, exports.

:class:`~hourglass.estimators.anomaly.AnomalyDetector` takes these methods from
:class:`DetectorOutputs`; its own module keeps the fitting and the scores.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from hourglass.estimators.export import export_onnx, to_torch
from hourglass.estimators.input_space import in_input_space, layers_in_output
from hourglass.exceptions import InvalidInputError


def _renamed(message: str, inner: str, own: str) -> str:
    """``message`` with the autoencoder's class name, as a whole word, replaced by the detector's
    ("... is required by AutoEncoder." too)."""
    return re.sub(rf"\b{re.escape(inner)}\b", own, message)


@contextmanager
def speaking_as(detector: Any) -> Iterator[None]:
    """Say what the wrapped autoencoder says about the data as the detector the user called.

    Its refusals ("X has 5 features, but AutoEncoder is expecting 30") name the detector, and
    its warnings ("X does not have valid feature names"), raised once by each of the calls a
    combined score makes, are given once.
    """
    inner, own = type(detector.estimator_).__name__, type(detector).__name__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except InvalidInputError as exc:
            raise type(exc)(_renamed(str(exc), inner, own)) from None
    said = set()
    for warning in caught:
        message = _renamed(str(warning.message), inner, own)
        if (warning.category, message) not in said:
            said.add((warning.category, message))
            warnings.warn(message, warning.category, stacklevel=4)


class DetectorOutputs:
    """The wrapped autoencoder's outputs, for a detector fitted with an ``estimator_``."""

    def error_map(self, X: Any) -> np.ndarray:
        """Squared reconstruction error of every feature or pixel, shaped like the input.

        Returns
        -------
        ndarray
            ``(n, d)`` for tables, ``(n, c, h, w)`` for images given to a conv estimator, in the
            data's raw units: its mean over all axes but the first is
            ``reconstruction_error(X, scaled=False)``.

        Examples
        --------
        >>> detector.error_map(X[:2]).shape  # doctest: +SKIP
        (2, 64)
        """
        check_is_fitted(self, "offset_")
        data = self.estimator_._validate_input(X, reset=False)
        # An array whatever set_output says: the reports reshape it into images.
        return (np.asarray(self.estimator_.reconstruct(X), dtype=np.float64) - data) ** 2

    def reconstruct(self, X: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Reconstruction of ``X`` by the wrapped autoencoder; ``out`` as there, and after this
        detector's ``set_output(transform="pandas")`` a DataFrame with ``X``'s columns and index."""
        check_is_fitted(self, "offset_")
        result = self.estimator_.reconstruct(X, out=out)
        return result if out is not None else in_input_space(self, result, X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes back to data with the wrapped autoencoder, in the units of the training data.

        As :meth:`hourglass.AutoEncoder.inverse_transform`, for the codes :meth:`transform` gives.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_codes)
            Codes as :meth:`transform` gives them.

        Returns
        -------
        ndarray of shape (n_samples, ...)
            Shaped like the training data. After this detector's
            ``set_output(transform="pandas")``, rows come as a DataFrame named by the input's
            columns, with the index of codes given as a DataFrame.

        Examples
        --------
        >>> detector.inverse_transform(detector.transform(X[:2])).shape  # doctest: +SKIP
        (2, 64)
        """
        check_is_fitted(self, "offset_")
        with speaking_as(self):
            result = self.estimator_.inverse_transform(X)
        return in_input_space(self, result, X)

    def layer_outputs(self, X: Any) -> dict[str, Any]:
        """The representation of ``X`` after every layer of the wrapped autoencoder, by name.

        As :meth:`hourglass.AutoEncoder.layer_outputs`: ``encoder.<layer>``, ``code``,
        ``decoder.<layer>`` and ``reconstruction``, from input to reconstruction.

        Parameters
        ----------
        X : array-like
            Data shaped like the training data.

        Returns
        -------
        dict of str to ndarray
            Each layer's output, one row per sample. After this detector's
            ``set_output(transform="pandas")``, each a DataFrame with ``X``'s index, named as
            :func:`hourglass.estimators.input_space.layer_columns` says; a convolutional
            model's layers stay arrays.

        Examples
        --------
        >>> detector.layer_outputs(X[:2])["code"].shape  # doctest: +SKIP
        (2, 8)
        """
        check_is_fitted(self, "offset_")
        with speaking_as(self):
            outputs = self.estimator_.layer_outputs(X)
        return layers_in_output(self, outputs, X)

    # -- taking the model elsewhere ------------------------------------------------------------
    def to_torch(self, part: str = "autoencoder"):
        """The wrapped autoencoder as a plain PyTorch module with the scaling inside.

        As :meth:`hourglass.AutoEncoder.to_torch`, except that the 'autoencoder' part also
        returns each sample's ``score`` on the scale of ``threshold_``, what :meth:`anomaly_score`
        gives (above ``threshold_``: an outlier).

        Examples
        --------
        >>> code, recon, score = detector.to_torch()(torch.from_numpy(X[:5]))  # doctest: +SKIP
        """
        check_is_fitted(self, "offset_")
        return to_torch(self, part)

    def export_onnx(self, path, part: str = "autoencoder", force: bool = False):
        """Write the wrapped autoencoder to an ONNX file, as :meth:`hourglass.AutoEncoder.export_onnx`.

        The 'autoencoder' part has a third output, ``score`` (each sample's score on the scale
        of ``threshold_``, what :meth:`anomaly_score` gives), and the file's ``metadata_props``
        hold ``threshold``, the score above which a sample is an outlier.

        Examples
        --------
        >>> detector.export_onnx("detector.onnx")  # doctest: +SKIP
        """
        check_is_fitted(self, "offset_")
        return export_onnx(self, path, part=part, force=force)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the columns :meth:`transform` gives: the wrapped autoencoder's code units.

        With it, ``set_output(transform='pandas')`` and a pipeline's ``get_feature_names_out``
        work as for an :class:`~hourglass.AutoEncoder`.
        """
        check_is_fitted(self, "offset_")
        return self.estimator_.get_feature_names_out(input_features)


__all__ = ["DetectorOutputs"]
