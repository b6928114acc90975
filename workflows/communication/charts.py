"""Charts as inline SVG, drawn on the server: no script, no font or file fetched, prints as vectors.

A small module of our own rather than a library: the four charts the reports need are bars and
columns, which take a few dozen lines each, while the SVG-emitting libraries we looked at (pygal,
matplotlib's SVG backend) either embed scripts and outside stylesheets by default or pull in a large
dependency for that. Every label is escaped here; the SVG is marked safe only after that.

Each chart carries ``data-chart`` (its name) and ``data-points`` (how many values it has), so a test
can check in a browser that every chart is present and has data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#b3261e", "#e8710a", "#f4b400", "#7cb342", "#5f6368")
WIDTH = 640


def _svg(name: str, height: int, points: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" data-chart="{escape(name)}" '
        f'data-points="{points}" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'style="max-width:{WIDTH}px" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>'
    )
    empty = (
        "" if points else f'<text x="{WIDTH // 2}" y="{height // 2}" text-anchor="middle">No data in this period</text>'
    )
    return Markup(head + "".join(body) + empty + "</svg>")  # every text above is escaped


def bars(name: str, title: str, rows: Sequence[tuple[str, float | None]], *, limit: float, unit: str) -> Markup:
    """Horizontal bars, one row per label (``None``: nothing to measure, drawn as a dash)."""
    row_h, left, right = 18, 200, 60
    height = 28 + row_h * len(rows) + 6
    span = WIDTH - left - right
    body: list[str] = []
    points = 0
    for i, (label, value) in enumerate(rows):
        y = 24 + i * row_h
        body.append(f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end">{escape(label)}</text>')
        if value is None:
            body.append(f'<text x="{left + 4}" y="{y + 12}" font-size="11" fill="#777">–</text>')
            continue
        points += 1
        w = max(1.0, span * min(value, limit) / limit) if limit else 1.0
        colour = PALETTE[3] if value >= 0.8 * limit else PALETTE[1] if value >= 0.5 * limit else PALETTE[0]
        body.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row_h - 5}" fill="{colour}"/>')
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 12}" font-size="11">{value:.0f}{escape(unit)}</text>')
    return _svg(name, height, points, title, body)


def stacked_columns(name: str, title: str, categories: Sequence[str], series: Mapping[str, Sequence[int]]) -> Markup:
    """Columns per category, stacked by series (incidents per month by severity), with a legend."""
    height, top, bottom, left = 240, 40, 30, 40
    plot_h = height - top - bottom
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    peak = max(totals, default=0) or 1
    step = (WIDTH - left - 10) / max(len(categories), 1)
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - 10}" y2="{top + plot_h}" stroke="#999"/>']
    body.append(f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>')
    for i, category in enumerate(categories):
        x = left + i * step + step * 0.2
        y: float = top + plot_h
        for s, (label, values) in enumerate(series.items()):
            h = plot_h * values[i] / peak
            if h:
                y -= h
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.6:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)}: {values[i]}</title></rect>'
                )
        body.append(
            f'<text x="{x + step * 0.3:.1f}" y="{top + plot_h + 14}" font-size="10" '
            f'text-anchor="middle">{escape(category)}</text>'
        )
    for s, label in enumerate(series):
        body.append(f'<rect x="{left + s * 90}" y="22" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>')
        body.append(f'<text x="{left + s * 90 + 14}" y="31" font-size="10">{escape(label)}</text>')
    return _svg(name, height, sum(1 for total in totals if total), title, body)


def against_target(name: str, title: str, rows: Sequence[tuple[str, float | None, float]], *, unit: str) -> Markup:
    """A bar per label with its target as a tick: time to resolve (90th percentile) against target."""
    row_h, left, right = 24, 120, 90
    height = 30 + row_h * len(rows) + 20
    peak = max([t for _, _, t in rows] + [v or 0 for _, v, _ in rows], default=0) or 1
    span = WIDTH - left - right
    body: list[str] = []
    points = 0
    for i, (label, value, target) in enumerate(rows):
        y = 26 + i * row_h
        body.append(f'<text x="{left - 6}" y="{y + 14}" font-size="11" text-anchor="end">{escape(label)}</text>')
        tx = left + span * target / peak
        if value is not None:
            points += 1
            w = max(1.0, span * value / peak)
            colour = PALETTE[0] if value > target else PALETTE[3]
            body.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}"/>')
            body.append(
                f'<text x="{max(left + w, tx) + 6:.1f}" y="{y + 14}" font-size="11">'
                f"{value:.1f} {escape(unit)} (target {target:g})</text>"
            )
        else:
            body.append(f'<text x="{tx + 6:.1f}" y="{y + 14}" font-size="11" fill="#777">none closed</text>')
        body.append(f'<line x1="{tx:.1f}" y1="{y}" x2="{tx:.1f}" y2="{y + row_h - 2}" stroke="#000" stroke-width="2"/>')
    body.append(f'<text x="{left}" y="{height - 6}" font-size="10" fill="#555">black tick: target</text>')
    return _svg(name, height, points, title, body)
