"""Charts drawn on the server as SVG: no script, no inline style, sized by a viewBox.

Each chart is an image with a title and a description; the page puts the same
figures in a table next to it for screen readers and for anyone who prefers numbers.
Values that are hidden (small numbers) are drawn as no bar, with their label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

WIDTH = 360  # one phone's width in CSS pixels; the viewBox scales to any width


def month_label(month: date) -> str:
    """A month under its column: "03", and "01/26" where a year begins."""
    return f"{month:%m}" if month.month != 1 else f"{month:%m/%y}"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # None: hidden, draw no bar
    text: str  # what the bar's label says ("12", "< 3", "•")


def _svg(height: int, title: str, desc: str, body: list[str], chart_id: str) -> Markup:
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>'
    )
    # Every text inside went through escape() above.
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704  # nosec B704


def columns(series: list[tuple[str, list[Bar]]], *, title: str, desc: str, chart_id: str) -> Markup:
    """Grouped columns (one group per month), up to two series side by side."""
    height, top, bottom, left = 200, 16, 30, 4
    groups = len(series[0][1]) if series else 0
    if not groups:
        return _svg(40, title, desc, [], chart_id)
    top_value = max([b.value or 0 for _, bars in series for b in bars] + [1])
    slot = (WIDTH - left * 2) / groups
    bar_w = max(2.0, (slot - 4) / len(series))
    plot = height - top - bottom
    body = [
        f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{WIDTH - left}" '
        f'y2="{height - bottom}"/>'
    ]
    for index in range(groups):
        x0 = left + index * slot + 2
        hidden = []
        for s, (_, bars) in enumerate(series):
            bar = bars[index]
            x = x0 + s * bar_w
            if bar.value:
                h = max(1.0, plot * bar.value / top_value)
                y = height - bottom - h
                body.append(
                    f'<rect class="s{s}" x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" '
                    f'height="{h:.1f}"><title>{escape(bar.label)}: {escape(bar.text)}'
                    "</title></rect>"
                )
            elif bar.value is None:
                hidden.append((x + bar_w / 2, bar.text))
        body.extend(_hidden_marks(hidden, x0 + slot / 2 - 2, height - bottom - 3))
        label = series[0][1][index].label
        body.append(
            f'<text class="tick" x="{x0 + slot / 2 - 2:.1f}" y="{height - bottom + 13}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    body.append(
        f'<text class="tick" x="{left}" y="{top - 4}">{escape(_thousands(top_value))}</text>'
    )
    for s, (name, _) in enumerate(series):
        x = left + s * 150
        body.append(f'<rect class="s{s}" x="{x}" y="{height - 12}" width="10" height="10"/>')
        body.append(f'<text class="legend" x="{x + 14}" y="{height - 3}">{escape(name)}</text>')
    return _svg(height, title, desc, body, chart_id)


def _hidden_marks(hidden: list[tuple[float, str]], middle: float, y: float) -> list[str]:
    """The marks of a group's hidden bars ("< 3", "•"). Columns are narrower than a mark:
    marks that say the same are drawn once, in the middle of the group, and different ones
    are stacked, so that no two run into one ("< 3< 3")."""
    texts = list(dict.fromkeys(text for _, text in hidden))
    if len(texts) == 1 and len(hidden) > 1:
        return [
            f'<text class="hidden-mark" x="{middle:.1f}" y="{y}" '
            f'text-anchor="middle">{escape(texts[0])}</text>'
        ]
    return [
        f'<text class="hidden-mark" x="{x:.1f}" y="{y - 11 * n}" '
        f'text-anchor="middle">{escape(text)}</text>'
        for n, (x, text) in enumerate(hidden)
    ]


def rows(bars: list[Bar], *, title: str, desc: str, chart_id: str) -> Markup:
    """Horizontal bars, the label above each bar: long Vietnamese names fit a phone."""
    row_h, height = 34, max(34 * len(bars) + 6, 40)
    top_value = max([b.value or 0 for b in bars] + [1])
    usable = WIDTH - 60
    body = []
    for index, bar in enumerate(bars):
        y = index * row_h + 4
        body.append(f'<text class="label" x="0" y="{y + 11}">{escape(bar.label)}</text>')
        width = usable * (bar.value or 0) / top_value
        if bar.value:
            body.append(
                f'<rect class="s0" x="0" y="{y + 15}" width="{max(width, 1):.1f}" height="12"/>'
            )
        body.append(
            f'<text class="value" x="{width + 4:.1f}" y="{y + 25}">{escape(bar.text)}</text>'
        )
    return _svg(height, title, desc, body, chart_id)


def _thousands(value: int) -> str:
    return f"{value:,}".replace(",", ".")
