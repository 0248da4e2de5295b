"""The report's plots, as inline SVG drawn by matplotlib without pyplot (no display, no global state)."""

from __future__ import annotations

import io
import re

import matplotlib
from matplotlib.figure import Figure

from stcorr.report.inputs import KS, Result, Run

GRID = {"alpha": 0.3, "linewidth": 0.6}
VAL_COLOURS = {"T@1": "#0b3d91", "T@3": "#2f7ed8", "T@5": "#8cc0f0"}


def pck_vs_k(results: list[Result]) -> str | None:
    series = [r for r in results if _curve(r, "k") and _curve(r, "pck_vs_k")]
    if not series:
        return None
    fig = Figure(figsize=(4.0, 3.1))
    ax = fig.add_subplot()
    for r in series:
        ax.plot(r.get("curves")["k"], _percent(r.get("curves")["pck_vs_k"]), "o-", ms=3, color=r.colour, label=r.label)
    alpha = results[0].get("alpha", 0.1)
    _style(ax, "k (frames)", f"T@k-PCK@{alpha} (%)", "PCK against the frame tolerance k")
    return _svg(fig)


def pck_vs_alpha(results: list[Result]) -> str | None:
    series = [r for r in results if _curve(r, "alpha") and isinstance(_curve(r, "pck_vs_alpha"), dict)]
    ks = [k for k in KS if any(k in r.get("curves")["pck_vs_alpha"] for r in series)]
    if not ks:
        return None
    fig = Figure(figsize=(2.5 * len(ks) + 0.5, 3.1))
    axes = fig.subplots(1, len(ks), sharey=True, squeeze=False)[0]
    for ax, k in zip(axes, ks):
        for r in series:
            values = r.get("curves")["pck_vs_alpha"].get(k)
            if values:
                ax.plot(r.get("curves")["alpha"], _percent(values), "o-", ms=3, color=r.colour, label=r.label)
        _style(ax, "alpha (share of keypoint box)", "T@k-PCK (%)" if ax is axes[0] else "", f"T@{k}-PCK against alpha",
               legend=False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 4), fontsize=8,
               frameon=False)
    return _svg(fig)


def per_action_bars(results: list[Result], k: str = "5") -> str | None:
    """Per action and method: joints (solid) and objects (hatched); methods without the split get one 'all' bar."""
    actions = sorted({a for r in results for a in r.per_action} | {a for r in results for a in r.per_action_type})
    if not actions:
        return None
    fig = Figure(figsize=(max(6.0, 1.25 * len(actions) + 1.5), 3.6))
    ax = fig.add_subplot()
    width = 0.82 / len(results)
    for i, r in enumerate(results):
        offset = (i - (len(results) - 1) / 2) * width
        xs = [j + offset for j in range(len(actions))]
        if r.per_action_type:
            for kind, shift, style in (("hum", -width / 4, {}), ("obj", width / 4, {"alpha": 0.45, "hatch": "///"})):
                values = [_type_score(r, a, kind, k) for a in actions]
                ax.bar([x + shift for x in xs], values, width / 2, color=r.colour, label=f"{r.label} {kind}", **style)
        else:
            values = [100 * float(r.per_action.get(a, {}).get(f"T@{k}", 0.0)) for a in actions]
            ax.bar(xs, values, width * 0.9, color=r.colour, label=f"{r.label} all", edgecolor="white")
    ax.set_xticks(range(len(actions)), [a.replace("_", " ") for a in actions], rotation=20, ha="right")
    _style(ax, "", f"T@{k}-PCK (%)", f"T@{k}-PCK per action: joints (solid), objects (hatched)", legend=False)
    ax.legend(fontsize=7, frameon=False, ncol=min(len(results), 3), loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig)


def training_curves(run: Run) -> str | None:
    if not run.train_rows and not run.val_rows:
        return None
    fig = Figure(figsize=(8.6, 3.0))
    left, right = fig.subplots(1, 2)
    rows = [r for r in run.train_rows if "loss" in r]
    left.plot([r["step"] for r in rows], [r["loss"] for r in rows], color="#1f77b4", lw=1.2)
    if rows and min(r["loss"] for r in rows) > 0 and max(r["loss"] for r in rows) > 20 * min(r["loss"] for r in rows):
        left.set_yscale("log")
    _style(left, "step", "loss", "training loss", legend=False)
    for key, colour in VAL_COLOURS.items():
        points = [r for r in run.val_rows if key in r]
        if points:
            right.plot([r["step"] for r in points], _percent([r[key] for r in points]), "o-", ms=3, color=colour, label=key)
    _style(right, "step", "val T@k-PCK (%)", "validation during training", legend=bool(run.val_rows))
    return _svg(fig)


def _curve(result: Result, key: str):
    curves = result.get("curves")
    return curves.get(key) if isinstance(curves, dict) else None


def _type_score(result: Result, action: str, kind: str, k: str) -> float:
    return 100 * float(result.per_action_type.get(action, {}).get(kind, {}).get(f"T@{k}", 0.0))


def _percent(values) -> list[float]:
    return [100 * float(v) for v in values]


def _style(ax, xlabel: str, ylabel: str, title: str, legend: bool = True) -> None:
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    ax.grid(**GRID)
    ax.spines[["top", "right"]].set_visible(False)
    if legend:
        ax.legend(fontsize=7, frameon=False)


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    # Inline SVG in HTML needs no namespace declarations, and the metadata only names matplotlib's web site
    # and Dublin Core: without them the page holds no address at all.
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text, count=2)
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
