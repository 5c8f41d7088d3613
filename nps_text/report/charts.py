"""Charts as static, inline SVG drawn with matplotlib.

Why SVG and not plotly: plotly's JavaScript alone is 4.8 MB, which would use up the report's 5 MB
budget and put a script in a page that otherwise runs none (so the page can forbid all scripts with
its Content-Security-Policy). SVG prints sharply to PDF and opens in any mail client's browser.

Text in the SVG stays text (``svg.fonttype = none``) so the page's fonts apply and the files stay
small; matplotlib escapes it as XML, and math-text parsing is off so a ``$`` in a branch name is
shown as is. No pyplot: figures are created with :class:`matplotlib.figure.Figure`, so nothing
global changes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

COLORS: Mapping[str, str] = {
    "line": "#1f4e79",
    "band": "#9ec5e8",
    "drop": "#c62828",
    "bar": "#2f6f9f",
    "bar_negative": "#c0504d",
    "grid": "#e3e6ea",
    "text": "#333333",
    "muted": "#6b7280",
}

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.edgecolor": "#9aa1a9",
    "axes.labelcolor": COLORS["text"],
    "xtick.color": COLORS["text"],
    "ytick.color": COLORS["text"],
    "svg.hashsalt": "nps-text",
}


def available() -> bool:
    """Whether matplotlib is installed (the report explains a missing chart instead of failing)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def trend_chart(trend: pd.DataFrame, labels: Mapping[str, str], id_prefix: str = "trend") -> str:
    """NPS per period as a line with its confidence band; significant drops marked in red.

    Args:
        trend: Columns ``period``, ``nps``, ``nps_ci_low``, ``nps_ci_high``, ``significant_drop``.
        labels: UI text with ``axis_nps``, ``significant_drop`` and (accessible name) ``trend``.
        id_prefix: Prefix of the SVG's element ids, unique within the page.

    Returns:
        An ``<svg>`` element as a string.
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(_rc("nps-text-trend")):
        figure = Figure(figsize=(9.0, 3.4))
        axes = figure.add_subplot()
        positions = list(range(len(trend)))
        nps = trend["nps"].astype(float)
        low = trend["nps_ci_low"].astype(float)
        high = trend["nps_ci_high"].astype(float)
        axes.fill_between(positions, low, high, color=COLORS["band"], alpha=0.45, linewidth=0)
        axes.plot(positions, nps, color=COLORS["line"], linewidth=2, marker="o", markersize=4)
        drops = trend["significant_drop"].astype(bool).to_numpy()
        if drops.any():
            drop_positions = [position for position, flag in zip(positions, drops, strict=True) if flag]
            axes.scatter(
                drop_positions, nps[drops], s=90, color=COLORS["drop"], zorder=5, label=labels["significant_drop"],
                edgecolor="white", linewidth=1.5,
            )
            for position in drop_positions:
                axes.annotate(
                    f"{nps.iloc[position]:.0f}".replace("-", "\u2212"),
                    (position, nps.iloc[position]),
                    textcoords="offset points", xytext=(0, -16), ha="center", color=COLORS["drop"],
                    fontweight="bold",
                )
            axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize=9, borderaxespad=0.2)
        axes.axhline(0, color=COLORS["muted"], linewidth=0.8)
        step = max(1, len(positions) // 14)
        axes.set_xticks(positions[::step])
        axes.set_xticklabels(trend["period"].astype(str).tolist()[::step], rotation=0 if step == 1 and len(positions) <= 10 else 35,
                             ha="center" if step == 1 and len(positions) <= 10 else "right", fontsize=9)
        axes.set_ylabel(labels["axis_nps"])
        top = max(10.0, float(high.max(skipna=True)) if high.notna().any() else 10.0)
        bottom = min(-10.0, float(low.min(skipna=True)) if low.notna().any() else -10.0)
        axes.set_ylim(max(-100.0, bottom - 8), min(100.0, top + 8))
        axes.set_xlim(-0.5, len(positions) - 0.5)
        _style(axes)
        return _to_svg(figure, labels.get("trend", labels["axis_nps"]), id_prefix)


def segment_chart(
    values: pd.DataFrame, overall_nps: float | None, title: str, id_prefix: str = "segment"
) -> str:
    """Horizontal NPS bars per segment value with confidence whiskers, ``n`` and the overall NPS line.

    Args:
        values: Columns ``segment_value``, ``nps``, ``responses`` and optionally ``nps_ci_low``/``high``.
        overall_nps: Drawn as a dashed reference line when given.
        title: Accessible name of the chart (the segment column).
        id_prefix: Prefix of the SVG's element ids, unique within the page.
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(_rc(f"nps-text-segment-{title}")):
        figure = Figure(figsize=(9.0, 0.8 + 0.32 * len(values)))
        axes = figure.add_subplot()
        positions = list(range(len(values)))
        nps = values["nps"].astype(float)
        colors = [COLORS["bar"] if value >= 0 else COLORS["bar_negative"] for value in nps]
        axes.barh(positions, nps, color=colors, height=0.62)
        if {"nps_ci_low", "nps_ci_high"} <= set(values.columns):
            low = (nps - values["nps_ci_low"].astype(float)).clip(lower=0).fillna(0)
            high = (values["nps_ci_high"].astype(float) - nps).clip(lower=0).fillna(0)
            axes.errorbar(nps, positions, xerr=[low, high], fmt="none", ecolor="#555555", elinewidth=1, capsize=3)
        low_edge = values["nps_ci_low"].astype(float) if "nps_ci_low" in values.columns else nps
        high_edge = values["nps_ci_high"].astype(float) if "nps_ci_high" in values.columns else nps
        low_edge, high_edge = low_edge.fillna(nps), high_edge.fillna(nps)
        axes.set_yticks(positions)
        axes.set_yticklabels(
            [f"{_short(str(value))}  n={int(count)}" for value, count in zip(values["segment_value"], values["responses"], strict=True)]
        )
        for position, value in enumerate(nps):
            # The value sits just past the whisker, on the side the bar points to.
            anchor = max(value, float(high_edge.iloc[position])) if value >= 0 else min(value, float(low_edge.iloc[position]))
            axes.annotate(
                f"{value:.0f}".replace("-", "\u2212"),
                (anchor, position), xytext=(5 if value >= 0 else -5, 0), textcoords="offset points",
                ha="left" if value >= 0 else "right", va="center", fontsize=9.5, fontweight="bold",
                color=COLORS["text"],
            )
        if overall_nps is not None:
            axes.axvline(overall_nps, color=COLORS["muted"], linestyle="--", linewidth=1)
        axes.axvline(0, color=COLORS["muted"], linewidth=0.8)
        left = min(-10.0, float(low_edge.min()) - 12, (overall_nps or 0.0) - 12)
        right = max(10.0, float(high_edge.max()) + 12, (overall_nps or 0.0) + 12)
        axes.set_xlim(max(-105.0, left), min(105.0, right))
        axes.set_ylim(-0.6, len(values) - 0.4)
        _style(axes, horizontal=True)
        return _to_svg(figure, title, id_prefix)


def _rc(salt: str) -> Any:
    """Our matplotlib settings with a per-chart hash salt (deterministic clip-path ids)."""
    return {**_RC, "svg.hashsalt": salt}


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _style(axes: object, horizontal: bool = False) -> None:
    axes.spines["top"].set_visible(False)  # type: ignore[attr-defined]
    axes.spines["right"].set_visible(False)  # type: ignore[attr-defined]
    axes.grid(axis="x" if horizontal else "y", color=COLORS["grid"], linewidth=0.8)  # type: ignore[attr-defined]
    axes.set_axisbelow(True)  # type: ignore[attr-defined]


_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_SIZE_ATTRIBUTES = re.compile(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"')


def _to_svg(figure: object, accessible_name: str, id_prefix: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})  # type: ignore[attr-defined]
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = _METADATA.sub("", svg, count=1)
    # Let CSS size the chart (responsive, printable): keep the viewBox, drop the fixed pt size.
    svg = _SIZE_ATTRIBUTES.sub(r"<svg\1", svg, count=1)
    name = (
        accessible_name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
    svg = _prefix_ids(svg, id_prefix)
    return svg.replace("<svg", f'<svg role="img" aria-label="{name}"', 1)


_ID = re.compile(r'\sid="([^"]+)"')


def _prefix_ids(svg: str, prefix: str) -> str:
    """Make the SVG's element ids unique in the page (matplotlib numbers them per figure: ``axes_1``)."""
    ids = set(_ID.findall(svg))
    if not ids:
        return svg

    def rename(match: re.Match[str]) -> str:
        return match.group(0).replace(match.group(2), f"{prefix}-{match.group(2)}", 1)

    pattern = re.compile(r'(\sid="|url\(#|href="#)(' + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)) + r')(?=[")])')
    return pattern.sub(rename, svg)
