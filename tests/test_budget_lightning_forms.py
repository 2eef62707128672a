"""``max_time`` as PyTorch Lightning takes it: a ``datetime.timedelta`` or a dict of its fields."""

import datetime

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_wine

import hourglass
from hourglass import AutoEncoder
from hourglass.exceptions import InvalidInputError
from hourglass.train.budget import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (datetime.timedelta(seconds=90), 90.0),
        (datetime.timedelta(hours=1, minutes=30), 5400.0),
        ({"minutes": 10}, 600.0),
        ({"days": 1, "hours": 5}, 104400.0),
    ],
)
def test_a_timedelta_or_a_dict_of_its_fields_is_a_budget(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", [datetime.timedelta(0), datetime.timedelta(seconds=-5), {"fortnights": 1}, {"hours": "x"}, {}]
)
def test_a_bad_timedelta_or_dict_is_refused_in_one_line(value):
    with pytest.raises(InvalidInputError, match=r"max_time=.*datetime\.timedelta or a dict of its") as error:
        parse_duration(value)
    assert "\n" not in str(error.value)


def test_a_fit_under_a_timedelta_saves_and_loads_as_its_seconds(tmp_path):
    X = load_wine().data
    ae = AutoEncoder(code_size=2, epochs=2, max_time=datetime.timedelta(minutes=2), random_state=0)
    ae.fit(X)
    assert ae.history_.recipe["max_time"] == 120.0
    assert clone(ae).max_time == datetime.timedelta(minutes=2)
    ae.save(tmp_path / "model")
    loaded = hourglass.load(tmp_path / "model")
    assert loaded.max_time == "120s" and parse_duration(loaded.max_time) == 120.0
    np.testing.assert_allclose(loaded.transform(X), ae.transform(X))


def test_a_bad_dict_budget_is_refused_before_any_data_is_read():
    with pytest.raises(InvalidInputError, match="max_time="):
        AutoEncoder(max_time={"weeks": -1}).fit(np.zeros((0, 3)))
