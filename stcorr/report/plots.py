"""The report's plots, as inline SVG (matplotlib, no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def pck_vs_k(results: list[dict]) -> str | None:
    series = [(i, r) for i, r in enumerate(results) if r.get("curves")]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for i, r in series:
        ax.plot(r["curves"]["k"], [100 * v for v in r["curves"]["pck_vs_k"]], "o-", color=colour(i), label=r["method"], ms=3)
    _style(ax, "k (frames)", f"T@k-PCK@{results[0].get('alpha', 0.1)} (%)", "PCK against the frame tolerance k")
    return _svg(fig)


def pck_vs_alpha(results: list[dict], k: str = "5") -> str | None:
    series = [(i, r) for i, r in enumerate(results) if r.get("curves") and k in r["curves"].get("pck_vs_alpha", {})]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for i, r in series:
        ax.plot(r["curves"]["alpha"], [100 * v for v in r["curves"]["pck_vs_alpha"][k]], "o-", color=colour(i), label=r["method"], ms=3)
    _style(ax, "alpha (fraction of the keypoint box)", f"T@{k}-PCK (%)", f"PCK against the pixel tolerance, k = {k}")
    return _svg(fig)


def per_action_bars(results: list[dict], k: str = "5") -> str | None:
    actions = sorted({a for r in results for a in r.get("per_action", {})})
    if not actions:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(actions)), 3.6))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        split = r.get("per_action_type", {})
        for j, action in enumerate(actions):
            x = j + (i - (len(results) - 1) / 2) * width
            hum = split.get(action, {}).get("hum", {}).get(f"T@{k}", 0.0)
            obj = split.get(action, {}).get("obj", {}).get(f"T@{k}", 0.0)
            ax.bar(x - width / 4, 100 * hum, width / 2, color=colour(i), label=f"{r['method']} hum" if j == 0 else None)
            ax.bar(x + width / 4, 100 * obj, width / 2, color=colour(i), alpha=0.45, hatch="//",
                   label=f"{r['method']} obj" if j == 0 else None)
    ax.set_xticks(range(len(actions)), [a.replace("_", " ") for a in actions], rotation=20)
    _style(ax, "", f"T@{k}-PCK (%)", f"T@{k}-PCK per action: joints (solid) and objects (hatched)")
    return _svg(fig)


def training_curves(train_rows: list[dict], val_rows: list[dict]) -> str | None:
    if not train_rows:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    left.plot([float(r["step"]) for r in train_rows], [float(r["loss"]) for r in train_rows], color=colour(0))
    _style(left, "step", "loss", "training loss", legend=False)
    for i, key in enumerate(k for k in ("T@1", "T@3", "T@5") if val_rows and k in val_rows[0]):
        right.plot([float(r["step"]) for r in val_rows], [100 * float(r[key]) for r in val_rows], "o-", color=colour(i + 1), label=key, ms=3)
    _style(right, "step", "val PCK (%)", "validation during training", legend=bool(val_rows))
    return _svg(fig)


def _style(ax, xlabel: str, ylabel: str, title: str, legend: bool = True) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if legend:
        ax.legend(fontsize=8, frameon=False)
