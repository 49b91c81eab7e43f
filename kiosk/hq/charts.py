"""Charts as SVG drawn on the server: no script, no CDN, readable by a screen reader.

Each chart is an ``<svg role="img">`` with a title and a description in words, and the page
puts the same figures in a table next to it, so nothing is only a picture.
"""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 160
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 44, 24, 10


def line_chart(
    points: list[tuple[str, float | None]], *, title: str, unit: str, top: float | None = None,
    colour: str = "#1d4e89", limit: tuple[float, str] | None = None,
) -> Markup:  # fmt: skip
    """A line over days: ``points`` are (label, value or None for a day with no figure).

    ``limit`` (value, words) draws a dashed line where a rule turns a kiosk red, labelled.
    """
    values = [v for _, v in points if v is not None]
    if not values:
        return Markup("")
    top = top if top is not None else max(values) * 1.1 or 1.0
    inner_w, inner_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = inner_w / max(1, len(points) - 1)

    def y(value: float) -> float:
        return PAD_TOP + inner_h * (1 - min(value, top) / top)

    path, pen_down = [], False
    for i, (_, value) in enumerate(points):
        if value is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{PAD_LEFT + i * step:.1f},{y(value):.1f}")
        pen_down = True
    dots = "".join(
        f'<circle cx="{PAD_LEFT + i * step:.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>'
        for i, (_, v) in enumerate(points)
        if v is not None
    )
    low, high = min(values), max(values)
    described = (
        f"{escape(title)}: from {escape(points[0][0])} to {escape(points[-1][0])}, "
        f"lowest {low:g} {escape(unit)}, highest {high:g} {escape(unit)}, "
        f"last {values[-1]:g} {escape(unit)}."
    )
    axis = (
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + inner_h}" x2="{WIDTH - 8}" '
        f'y2="{PAD_TOP + inner_h}" stroke="#555"/>'
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 8}" text-anchor="end">{top:g}</text>'
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + inner_h}" text-anchor="end">0</text>'
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}">{escape(points[0][0])}</text>'
        f'<text x="{WIDTH - 8}" y="{HEIGHT - 6}" text-anchor="end">{escape(points[-1][0])}</text>'
    )
    if limit is not None:
        axis += (
            f'<line x1="{PAD_LEFT}" y1="{y(limit[0]):.1f}" x2="{WIDTH - 8}" y2="{y(limit[0]):.1f}" '
            f'stroke="#a4161a" stroke-dasharray="6 4"/>'
            f'<text x="{WIDTH - 10}" y="{y(limit[0]) + 14:.1f}" text-anchor="end" fill="#a4161a">'
            f"{escape(limit[1])}</text>"
        )
    return Markup(  # noqa: S704 - every text in it went through escape()
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{described}" font-size="12" fill="#222">'
        f"<title>{described}</title>{axis}"
        f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>{dots}</svg>'
    )


def bar_chart(rows: list[tuple[str, int]], *, title: str, unit: str) -> Markup:
    """Horizontal bars, one per row (label, value), each labelled with its words and figure."""
    if not rows:
        return Markup("")
    top = max(n for _, n in rows) or 1
    label_w, bar_w, row_h = 220, 340, 26
    height = row_h * len(rows) + 6
    parts = []
    for i, (label, n) in enumerate(rows):
        y = 3 + i * row_h
        width = max(1.0, bar_w * n / top) if n else 0
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{row_h - 8}" '
            f'fill="#1d4e89"/>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 17}">{n:,}</text>'
        )
    described = f"{escape(title)}, {escape(unit)}: " + "; ".join(
        f"{escape(label)} {n:,}" for label, n in rows
    )
    return Markup(  # noqa: S704 - every text in it went through escape()
        f'<svg class="bars" viewBox="0 0 {label_w + bar_w + 70} {height}" role="img" '
        f'aria-label="{described}" font-size="13" fill="#222"><title>{described}</title>'
        f"{''.join(parts)}</svg>"
    )
