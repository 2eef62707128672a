"""Run the README's Python examples, in order, in one namespace, in a scratch folder.

The README is the first thing a user runs; an example that no longer works is a bug.
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[str]:
    """The bodies of the README's ```python fenced blocks, in order."""
    return [match.group(1) for match in FENCE.finditer(text)]


def test_python_blocks_finds_fenced_code():
    text = "intro\n```python\nx = 1\n```\n```bash\nls\n```\n```python title\ny = x + 1\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x + 1\n"]


@pytest.mark.slow  # the examples train the default models on digits: tens of seconds
def test_readme_python_examples_run(tmp_path, monkeypatch):
    if not README.exists():
        pytest.skip("README.md does not exist yet")
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip("README.md has no ```python blocks yet; this test runs them once it does")
    monkeypatch.chdir(tmp_path)  # examples may write model folders or reports
    namespace: dict = {"__name__": "__readme__"}
    for number, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"README.md python block {number} failed: {type(exc).__name__}: {exc}\n{block}")
