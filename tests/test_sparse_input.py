"""SciPy sparse rows (bag-of-words, one-hot): every row estimator trains on them as on their dense form."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder, VariationalAutoEncoder
from hourglass.data import memory
from hourglass.exceptions import InvalidInputError

TINY = dict(code_size=2, hidden_layers=(8,), epochs=2, verbose=0, device="cpu", random_state=0)
FORMATS = ["csr", "csc", "coo", "lil", "dok", "bsr", "dia"]


@pytest.fixture(scope="module")
def counts():
    """A small document-term matrix: mostly zeros, a few counts."""
    return scipy.sparse.random(150, 20, density=0.15, format="csr", random_state=0, dtype=np.float64) * 5


@pytest.mark.parametrize("kind", [AutoEncoder, VariationalAutoEncoder])
def test_an_autoencoder_fitted_on_sparse_rows_is_the_one_fitted_on_their_dense_form(kind, counts):
    dense = counts.toarray()
    from_sparse = kind(**TINY).fit(counts)
    from_dense = kind(**TINY).fit(dense)
    np.testing.assert_array_equal(from_sparse.transform(counts), from_dense.transform(dense))
    np.testing.assert_array_equal(from_sparse.reconstruct(counts.tocsc()), from_dense.reconstruct(dense))


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")  # DIA of a random matrix
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_sparse_format_is_read(fmt, counts):
    ae = AutoEncoder(**TINY).fit(counts.asformat(fmt))
    assert ae.transform(counts.asformat(fmt)).shape == (150, 2)
    assert np.isfinite(ae.reconstruction_error(scipy.sparse.csr_array(counts))).all()


def test_a_detector_scores_sparse_rows_as_their_dense_form(counts):
    dense = counts.toarray()
    from_sparse = AnomalyDetector(AutoEncoder(**TINY), random_state=0).fit(counts)
    from_dense = AnomalyDetector(AutoEncoder(**TINY), random_state=0).fit(dense)
    np.testing.assert_array_equal(from_sparse.score_samples(counts), from_dense.score_samples(dense))
    assert from_sparse.predict(counts).shape == (150,)
    assert from_sparse.predict_proba(counts.tocoo()).shape == (150, 2)


def test_sparse_rows_too_large_to_make_dense_are_one_line(counts, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    with pytest.raises(
        InvalidInputError, match=r"sparse 150 x 20 matrix of float64, as dense rows"
    ) as caught:
        AutoEncoder(**TINY).fit(counts)
    assert "\n" not in str(caught.value) and "TruncatedSVD" in str(caught.value)


def test_a_convolutional_model_refuses_sparse_rows_naming_them(counts):
    with pytest.raises(
        InvalidInputError, match=r"^X is a SciPy sparse matrix of shape \(150, 20\);.*AutoEncoder"
    ):
        ConvAutoEncoder(channels=(4,), epochs=1, verbose=0).fit(counts)


def test_a_dataframe_of_sparse_columns_trains_as_its_dense_form(counts):
    frame = pd.DataFrame.sparse.from_spmatrix(counts, columns=[f"w{i}" for i in range(20)])
    dense = pd.DataFrame(counts.toarray(), columns=frame.columns)
    from_sparse = AutoEncoder(**TINY).fit(frame)
    np.testing.assert_array_equal(
        from_sparse.transform(frame), AutoEncoder(**TINY).fit(dense).transform(dense)
    )
    assert list(from_sparse.feature_names_in_) == list(frame.columns)
