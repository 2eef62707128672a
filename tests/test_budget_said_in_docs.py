"""What a time budget does to a seed and to ``partial_fit`` is said where a user reads about them.

``random_state`` promised the same weights for the same seed, threads and precision, but a budget
that ends the run ends it where its seconds run out: three fits of digits at ``max_time=1``,
``random_state=0``, ``threads=1`` ran 14, 15 and 17 epochs to three sets of weights.
``partial_fit`` never reads ``max_time``, which the budget's "bounds any estimator" left unsaid.
"""

from __future__ import annotations

import re
from pathlib import Path

from hourglass import AutoEncoder

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "tables.md"


def _entry(doc: str, name: str) -> str:
    """The text of parameter ``name`` in a numpydoc Parameters section."""
    match = re.search(rf"^    {name} : .*?\n(.*?)(?=^    \w+ : |\Z)", doc, re.S | re.M)
    assert match, name
    return " ".join(match.group(1).split())


def test_the_seed_says_a_budget_that_ends_the_run_gives_other_weights():
    entry = _entry(AutoEncoder.__doc__, "random_state")
    assert "max_time" in entry and "other weights run to run" in entry
    guide = " ".join(GUIDE.read_text().split())
    assert "the same seed gives other weights run to run" in guide


def test_partial_fit_says_the_budget_never_cuts_its_pass():
    assert "never cut short by ``max_time``" in " ".join(AutoEncoder.partial_fit.__doc__.split())
