"""Self-contained HTML reports: text, tables, stat cards and figures in one file.

A report is a single HTML file with inline CSS and figures embedded as base64 PNG. It needs no
server, no JavaScript and no network: it can be mailed, attached to a ticket or opened years
later, and looks the same.
"""

from __future__ import annotations

import base64
import math
import numbers
import re
import struct
from datetime import datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from hourglass.data.fileio import check_writable, write_text_atomic
from hourglass.exceptions import InvalidInputError
from hourglass.report.html_tables import _escape, _is_seconds, _table_html, format_number
from hourglass.report.plots import figure_to_png

# A table of contents pays off only once there is something to jump between.
_MIN_SECTIONS_FOR_TOC = 4


class Report:
    """An HTML report built section by section, in the order the sections are added.

    Each ``add_*`` with a ``heading`` starts a new section (a card); without one, the content
    joins the previous section, so that every figure and table sits under a heading.

    Parameters
    ----------
    title : str
        Shown as the page title and the header.
    subtitle : str, default=""
        A one-line summary under the title, e.g. the best result in words.

    Examples
    --------
    >>> import numpy as np
    >>> from hourglass.report.plots import histogram
    >>> report = Report("Digits, 8-D code", "The autoencoder beats PCA by 31% at k=8.")
    >>> report.add_metrics({"held-out MSE": 0.0123, "epochs": 40, "fit time (s)": 12.3})
    >>> report.add_table(pd.DataFrame({"k": [2, 8], "mse": [0.05, 0.01]}), highlight={"mse": "min"})
    >>> report.add_figure(histogram(np.arange(10.0), "ten", "value"), heading="Scores")
    >>> report.save("report.html", force=True)  # doctest: +SKIP
    PosixPath('report.html')
    """

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self._sections: list[tuple[str | None, str]] = []  # (heading, inner HTML)

    def _add(self, heading: str | None, body: str) -> None:
        if heading is None and self._sections:
            # Content without a heading of its own belongs to the section above it: a figure in a
            # card of its own, with no title, would leave the reader to guess what it shows.
            previous_heading, previous = self._sections[-1]
            self._sections[-1] = (previous_heading, f"{previous}\n{body}")
        else:
            self._sections.append((heading, body))

    def add_text(self, text: str, heading: str | None = None) -> None:
        """Add plain text; blank lines separate paragraphs.

        Parameters
        ----------
        text : str
            Plain text: it is escaped, so ``<b>`` shows as written rather than as markup.
        heading : str, optional
            Heading of a new section; without one, this joins the previous section.

        Examples
        --------
        >>> Report("t").add_text("First paragraph.\\n\\nSecond one.", heading="Notes")
        """
        paragraphs = [part.strip() for part in re.split(r"\n\s*\n", str(text)) if part.strip()]
        body = "\n".join(f"<p>{_escape(part)}</p>" for part in paragraphs)
        self._add(heading, body)

    def add_table(
        self,
        df: pd.DataFrame,
        heading: str | None = None,
        caption: str | None = None,
        highlight: dict[str, str] | None = None,
        better_than: dict[str, float] | None = None,
    ) -> None:
        """Add a table, numbers right-aligned and formatted by :func:`format_number`.

        Parameters
        ----------
        df : DataFrame
            The table. Its index is shown unless it is the default 0, 1, 2, ...
        heading : str, optional
            Heading of a new section; without one, this joins the previous section.
        caption : str, optional
            A sentence under the table.
        highlight : dict of str to {"min", "max"}, optional
            Columns to compare, and whether lower or higher is better; the best value of each
            (all of them on a tie) is shown in bold on a green background.
        better_than : dict of str to float, optional
            For highlighted columns whose best value is only a success past a bound: the best
            value is marked only if it is below the bound ("min") or above it ("max"). A ratio
            to a baseline, for instance, is no success at 1.3 even if it is the lowest.

        Examples
        --------
        >>> table = pd.DataFrame({"model": ["AE", "PCA"], "mse": [0.011, 0.016]})
        >>> Report("t").add_table(table, heading="Compare", highlight={"mse": "min"})
        >>> ratios = pd.DataFrame({"k": [2, 8], "AE / PCA": [1.4, 1.1]})
        >>> Report("t").add_table(ratios, highlight={"AE / PCA": "min"}, better_than={"AE / PCA": 1.0})
        """
        highlight = dict(highlight or {})
        better_than = dict(better_than or {})
        for column, bound in better_than.items():
            if column not in highlight:
                raise InvalidInputError(f"better_than names column {column!r}, which highlight does not")
            if not isinstance(bound, numbers.Real) or math.isnan(bound):
                raise InvalidInputError(f"better_than[{column!r}] must be a number, got {bound!r}")
        for column, direction in highlight.items():
            if column not in df.columns:
                raise InvalidInputError(f"highlight names column {column!r}, not in {list(df.columns)}")
            if direction not in ("min", "max"):
                raise InvalidInputError(f"highlight[{column!r}] must be 'min' or 'max', got {direction!r}")
        body = _table_html(df, highlight, better_than)
        if caption:
            body += f'\n<p class="caption">{_escape(caption)}</p>'
        self._add(heading, body)

    def add_figure(
        self, fig: Figure, heading: str | None = None, caption: str | None = None, alt: str | None = None
    ) -> None:
        """Embed a matplotlib figure as a PNG, then close it to free its memory.

        Parameters
        ----------
        fig : Figure
            The figure, e.g. from :mod:`hourglass.report.plots`.
        heading : str, optional
            Heading of a new section; without one, this joins the previous section.
        caption : str, optional
            A sentence under the figure.
        alt : str, optional
            The image's alternative text, for readers who cannot see it; by default the
            caption, else the heading of the section it is in, else the report's title.

        Examples
        --------
        >>> import numpy as np
        >>> from hourglass.report.plots import histogram
        >>> Report("t").add_figure(histogram(np.arange(10.0), "ten", "value"), caption="Ten values")
        """
        png = figure_to_png(fig)
        _close(fig)
        width, height = struct.unpack(">II", png[16:24])  # from the PNG's IHDR chunk
        data = base64.b64encode(png).decode("ascii")
        if alt is None:
            section = heading or next((h for h, _ in reversed(self._sections) if h), None)
            alt = caption or section or self.title
        alt = _escape(alt)
        body = (
            f'<figure><img src="data:image/png;base64,{data}" width="{width}" height="{height}" alt="{alt}">'
        )
        if caption:
            body += f"<figcaption>{_escape(caption)}</figcaption>"
        self._add(heading, body + "</figure>")

    def add_metrics(
        self,
        metrics: dict[str, float | str],
        heading: str | None = None,
        tones: dict[str, str] | None = None,
    ) -> None:
        """Add a row of stat cards: a big number over its label.

        Parameters
        ----------
        metrics : dict of str to float or str
            Label to value; numbers are formatted by :func:`format_number` (labels that name
            seconds get two decimals).
        heading : str, optional
            Heading of a new section; without one, this joins the previous section.
        tones : dict of str to {'win', 'loss'}, optional
            Cards to mark, by label: a win green, a loss red, each with its word on the card,
            so that a loss is as plain as a win.

        Examples
        --------
        >>> Report("t").add_metrics({"held-out MSE": 0.01234, "parameters": 52_000})
        >>> Report("t").add_metrics({"code size 8": "1.18x PCA"}, tones={"code size 8": "loss"})
        """
        tones = tones or {}
        unknown = set(tones.values()) - set(_TONES)
        if unknown:
            raise ValueError(f"tones hold {sorted(unknown)}; expected 'win' or 'loss'")
        cards = "\n".join(
            f'<div class="stat{" " + tones[label] if label in tones else ""}"><div class="value">'
            f"{_escape(format_number(value, seconds=_is_seconds(label)))}"
            f"{_TONES[tones[label]] if label in tones else ''}</div>"
            f'<div class="label">{_escape(label)}</div></div>'
            for label, value in metrics.items()
        )
        self._add(heading, f'<div class="stats">\n{cards}\n</div>')

    def to_html(self) -> str:
        """Return the whole report as one HTML document.

        Returns
        -------
        str
            A complete page with inline CSS and embedded images; no scripts, no external links.

        Examples
        --------
        >>> "<h1>Digits</h1>" in Report("Digits").to_html()
        True
        """
        sections = "\n".join(
            _section_html(index, heading, body) for index, (heading, body) in enumerate(self._sections)
        )
        subtitle = f'<p class="subtitle">{_escape(self.subtitle)}</p>' if self.subtitle else ""
        generated = datetime.now().strftime("%Y-%m-%d %H:%M")
        return _PAGE.format(
            title=_escape(self.title),
            subtitle=subtitle,
            toc=self._toc_html(),
            sections=sections,
            css=_CSS,
            generated=generated,
        )

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write the report to ``path`` atomically.

        Parameters
        ----------
        path : str or Path
            Where to write, usually ending in ``.html``.
        force : bool, default=False
            Replace an existing file.

        Returns
        -------
        Path
            The path written.

        Raises
        ------
        OutputExistsError
            If ``path`` exists and ``force`` is False.

        Examples
        --------
        >>> Report("Digits").save("digits.html")  # doctest: +SKIP
        PosixPath('digits.html')
        """
        path = check_writable(path, force, file=True)
        write_text_atomic(path, self.to_html())
        return path

    def _toc_html(self) -> str:
        links = [
            f'<a href="#section-{index}">{_escape(heading)}</a>'
            for index, (heading, _) in enumerate(self._sections)
            if heading
        ]
        if len(links) < _MIN_SECTIONS_FOR_TOC:
            return ""
        return '<nav class="toc">' + "".join(links) + "</nav>"


# --- helpers -------------------------------------------------------------------------------------


def _close(fig: Figure) -> None:
    manager = getattr(fig.canvas, "manager", None)
    if manager is not None:
        # Only a figure made through pyplot is registered there; importing pyplot for others
        # would pick a GUI backend for nothing.
        import matplotlib.pyplot as plt

        plt.close(fig)
    else:
        fig.clear()


def _section_html(index: int, heading: str | None, body: str) -> str:
    title = f"<h2>{_escape(heading)}</h2>\n" if heading else ""
    return f'<section class="card" id="section-{index}">\n{title}{body}\n</section>'


#: The word a marked stat card carries beside its value (colour alone would not say it).
_TONES = {"win": ' <span class="tone">win</span>', "loss": ' <span class="tone">loss</span>'}


_CSS = """
:root {
  --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f5f6f8; --card: #ffffff;
  --accent: #2563eb; --best-bg: #dcfce7; --best-ink: #14532d; --loss-bg: #fee2e2; --loss-ink: #7f1d1d;
  color-scheme: light;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
        "Noto Sans", sans-serif;
  -webkit-font-smoothing: antialiased;
}
main { max-width: 1100px; margin: 0 auto; padding: 0 24px 48px; }
header { padding: 40px 0 20px; }
header h1 { margin: 0; font-size: 30px; line-height: 1.2; letter-spacing: -0.01em; }
header .subtitle { margin: 8px 0 0; font-size: 17px; color: var(--muted); }
.toc { display: flex; flex-wrap: wrap; gap: 6px 8px; margin: 0 0 20px; }
.toc a {
  font-size: 13px; color: var(--accent); text-decoration: none; background: var(--card);
  border: 1px solid var(--line); border-radius: 999px; padding: 3px 12px;
}
.toc a:hover { border-color: var(--accent); }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 20px 24px; margin: 0 0 20px; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04);
}
.card h2 { margin: 0 0 14px; font-size: 18px; letter-spacing: -0.005em; }
.card p { margin: 0 0 10px; max-width: 75ch; }
.card p:last-child { margin-bottom: 0; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; }
.stat { background: var(--bg); border-radius: 10px; padding: 14px 16px; }
.stat .value {
  font-size: 26px; font-weight: 650; line-height: 1.15; font-variant-numeric: tabular-nums;
  overflow-wrap: anywhere;
}
.stat .label { margin-top: 4px; font-size: 13px; color: var(--muted); }
.stat.win { background: var(--best-bg); color: var(--best-ink); }
.stat.loss { background: var(--loss-bg); color: var(--loss-ink); }
.stat.win .label, .stat.loss .label { color: inherit; }
.stat .tone {
  font-size: 13px; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em;
  vertical-align: middle;
}
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
/* Headers wrap, so a wide table (the comparison's ten columns) fits its card at 1280 px. */
thead th {
  font-size: 13px; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line);
  white-space: normal; vertical-align: bottom; min-width: 4.5em;
}
tbody th.index { font-weight: 600; }
tbody tr:hover { background: #f9fafb; }
.num { text-align: right; }
td.best { background: var(--best-bg); color: var(--best-ink); font-weight: 700; }
td.missing { color: var(--muted); }
.arrow { color: var(--accent); font-weight: 700; }
.caption, figcaption { margin: 10px 0 0; font-size: 13px; color: var(--muted); }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding-top: 8px; }
@media print {
  body { background: #fff; }
  .card { box-shadow: none; break-inside: avoid; }
  .toc { display: none; }
}
"""


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main>
<header>
<h1>{title}</h1>
{subtitle}
</header>
{toc}
{sections}
<footer>Made with hourglass · {generated}</footer>
</main>
</body>
</html>
"""
