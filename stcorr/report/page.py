"""Builds DIR/index.html from RESULTS.json files (SPEC §7, with the optional keys ``stcorr eval``
adds: per_action_type, per_moment, curves, per_pair, predictions, config, command) and a run folder.

The page is self-contained: plots are inline SVG, pictures are PNG data: URIs, no CDN.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
from pathlib import Path

import yaml

from stcorr.data.video import find_video
from stcorr.errors import StcorrError
from stcorr.report import plots

KS = ("1", "3", "5")


def build_report(results: list[Path], out_dir: Path, run_dir: Path | None = None, max_pairs_per_action: int = 3) -> Path:
    """Writes ``out_dir/index.html`` (atomically) and returns its path."""
    if not results:
        raise StcorrError("report needs at least one RESULTS.json")
    loaded = [(Path(p), read_results(Path(p))) for p in results]
    sections = [
        _overview(loaded),
        _section("tables", "Scores (Table 3 and Table 4 layouts)", _table3(loaded) + _table4(loaded) + _moments(loaded)),
        _section("plots", "Plots", _plots([r for _, r in loaded])),
    ]
    if run_dir is not None:
        sections.append(_section("training", "Training", _training(Path(run_dir))))
    sections.append(_section("pairs", "Pairs: best, median and worst of each action",
                             _pairs(loaded, max_pairs_per_action)))
    sections.append(_section("provenance", "Config and command of each result", _provenance(loaded)))
    page = _page(sections)
    return _write_atomically(Path(out_dir), page)


def read_results(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise StcorrError("file not found", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StcorrError(f"not valid JSON ({exc})", path) from None
    needed = ("method", "T@1", "T@3", "T@5", "per_action", "per_type")
    if not isinstance(data, dict) or any(k not in data for k in needed):
        raise StcorrError(f"not a RESULTS.json (needs {', '.join(needed)})", path)
    return data


def _pct(value) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}"


def _section(anchor: str, title: str, body: str) -> tuple[str, str, str]:
    return anchor, title, body


def _overview(loaded) -> tuple[str, str, str]:
    first = loaded[0][1]
    facts = [("data", first.get("data", "?")), ("split", first.get("split", "?")), ("setup", first.get("setup", "?")),
             ("alpha", first.get("alpha", 0.1)), ("methods", ", ".join(r["method"] for _, r in loaded))]
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts)
    return "overview", "Overview", f"<table class='facts'>{rows}</table>"


def _table3(loaded) -> str:
    head = "<tr><th>method</th><th>T@1</th><th>T@3</th><th>T@5</th><th>pairs</th><th>points</th></tr>"
    best = {k: max(r[f"T@{k}"] for _, r in loaded) for k in KS}
    rows = "".join(
        f"<tr><td><span class='dot' style='background:{plots.colour(i)}'></span>{html.escape(r['method'])}</td>"
        + "".join(f"<td class='num{' best' if r[f'T@{k}'] == best[k] and len(loaded) > 1 else ''}'>{_pct(r[f'T@{k}'])}</td>" for k in KS)
        + f"<td class='num'>{r.get('n_pairs', '')}</td><td class='num'>{r.get('n_points', '')}</td></tr>"
        for i, (_, r) in enumerate(loaded)
    )
    return f"<h3>T@k-PCK@{loaded[0][1].get('alpha', 0.1)} (%), all keypoints</h3><table>{head}{rows}</table>"


def _table4(loaded) -> str:
    actions = sorted({a for _, r in loaded for a in r["per_action"]})
    parts = []
    for k in KS:
        head = "<tr><th rowspan=2>method</th>" + "".join(f"<th colspan=3>{html.escape(a.replace('_', ' '))}</th>" for a in actions)
        head += "<th colspan=3>all actions</th></tr><tr>" + "<th>hum</th><th>obj</th><th>all</th>" * (len(actions) + 1) + "</tr>"
        rows = ""
        for _, r in loaded:
            cells = ""
            for a in actions:
                split = r.get("per_action_type", {}).get(a, {})
                cells += "".join(f"<td class='num'>{_pct(split.get(t, {}).get(f'T@{k}')) if split else '–'}</td>" for t in ("hum", "obj"))
                cells += f"<td class='num'>{_pct(r['per_action'].get(a, {}).get(f'T@{k}'))}</td>"
            cells += "".join(f"<td class='num'>{_pct(r['per_type'].get(t, {}).get(f'T@{k}'))}</td>" for t in ("hum", "obj"))
            cells += f"<td class='num'>{_pct(r[f'T@{k}'])}</td>"
            rows += f"<tr><td>{html.escape(r['method'])}</td>{cells}</tr>"
        parts.append(f"<h3>T@{k}-PCK (%) per action and keypoint type</h3><div class='wide'><table>{head}{rows}</table></div>")
    return "".join(parts)


def _moments(loaded) -> str:
    keys = sorted({m for _, r in loaded for m in r.get("per_moment", {})})
    if not keys:
        return "<p class='note'>No per-key-moment scores in these results.</p>"
    head = "<tr><th>action / key moment</th>" + "".join(f"<th>{html.escape(r['method'])}</th>" for _, r in loaded) + "</tr>"
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td>"
        + "".join(f"<td class='num'>{_pct(r.get('per_moment', {}).get(key, {}).get('T@5'))}</td>" for _, r in loaded)
        + "</tr>" for key in keys)
    return f"<h3>T@5-PCK (%) per key moment</h3><table>{head}{rows}</table>"


def _plots(results: list[dict]) -> str:
    figures = [plots.pck_vs_k(results), plots.pck_vs_alpha(results), plots.per_action_bars(results)]
    shown = "<div class='plots'>" + "".join(f"<figure>{svg}</figure>" for svg in figures if svg) + "</div>"
    missing = [r["method"] for r in results if not r.get("curves")]
    if missing:
        shown += f"<p class='note'>{html.escape(', '.join(missing))}: these results hold no curves (PCK against k and alpha).</p>"
    return shown


def _training(run: Path) -> str:
    train_rows, val_rows = _read_csv(run / "train_log.csv"), _read_csv(run / "val_log.csv")
    svg = plots.training_curves(train_rows, val_rows)
    if svg is None:
        return f"<p class='note'>No training log in {html.escape(str(run))}.</p>"
    return f"<figure>{svg}</figure>"


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _pairs(loaded, per_action: int) -> str:
    parts = []
    for path, results in loaded:
        records = _predictions(path, results)
        if records is None:
            parts.append(f"<p class='note'>{html.escape(results['method'])}: no saved predictions "
                         "(run <code>stcorr eval --save-predictions</code>).</p>")
            continue
        parts.append(f"<h3>{html.escape(results['method'])}</h3>" + _pair_pictures(results, records, per_action))
    return "".join(parts)


def _predictions(path: Path, results: dict) -> list[dict] | None:
    ref = results.get("predictions")
    if not ref:
        return None
    file = Path(ref) if os.path.isabs(ref) else path.parent / ref
    try:
        return json.loads(file.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _pair_pictures(results: dict, records: list[dict], per_action: int) -> str:
    from stcorr.viz import draw_correspondences, verdict_at

    by_key = {(r["source"], r["target"]): r for r in records}
    chosen = _chosen_pairs(results.get("per_pair", []), per_action)
    if not chosen:
        return "<p class='note'>No per-pair scores in these results.</p>"
    cells = []
    for label, row in chosen:
        record = by_key.get((row["source"], row["target"]))
        if record is None:
            continue
        try:
            source, target = find_video(results["data"], row["source"]), find_video(results["data"], row["target"])
            image = draw_correspondences(source, target, verdict_at(record["keypoints"], "5"), max_frames=3, scale_to=160)
        except StcorrError as exc:
            return f"<p class='note'>Pair pictures left out: {html.escape(str(exc))}</p>"
        caption = (f"{html.escape(row['action'])} · {label} · {html.escape(row['source'])} → {html.escape(row['target'])}"
                   f" · T@5 {_pct(row.get('T@5'))}%")
        cells.append(f"<figure class='pair'><img alt='{caption}' src='{_png_uri(image)}'><figcaption>{caption}</figcaption></figure>")
    return "<div class='pairs'>" + "".join(cells) + "</div>"


def _chosen_pairs(per_pair: list[dict], per_action: int) -> list[tuple[str, dict]]:
    chosen = []
    for action in sorted({p["action"] for p in per_pair}):
        ranked = sorted((p for p in per_pair if p["action"] == action), key=lambda p: (-p.get("T@5", 0), p["source"], p["target"]))
        picks = [("best", ranked[0]), ("median", ranked[len(ranked) // 2]), ("worst", ranked[-1])][:per_action]
        seen = set()
        for label, row in picks:
            if id(row) not in seen:
                seen.add(id(row))
                chosen.append((label, row))
    return chosen


def _png_uri(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _provenance(loaded) -> str:
    parts = []
    for path, r in loaded:
        command = r.get("command") or "(not recorded)"
        config = yaml.safe_dump(r["config"], sort_keys=False) if r.get("config") else "(not recorded)"
        parts.append(f"<details><summary>{html.escape(r['method'])} — {html.escape(str(path))}</summary>"
                     f"<p>command</p><pre>{html.escape(command)}</pre><p>config</p><pre>{html.escape(config)}</pre></details>")
    return "".join(parts)


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#b8c0cc}nav{padding:8px 32px;background:#e9ecf1}nav a{margin-right:16px;color:#1d4ed8}
main{padding:8px 32px 40px;max-width:1400px}section{background:#fff;border-radius:8px;padding:8px 20px 16px;margin:18px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}h2{font-size:18px;border-bottom:1px solid #e5e7eb;padding-bottom:6px}h3{font-size:15px}
table{border-collapse:collapse;margin:6px 0 14px}th,td{padding:4px 9px;border-bottom:1px solid #e5e7eb;text-align:left}
th{background:#f1f3f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:700}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px}.wide{overflow-x:auto}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plots figure{margin:0}.plots svg{max-width:100%;height:auto}
.pairs{display:flex;flex-wrap:wrap;gap:14px}.pair{margin:0;max-width:520px}.pair img{max-width:100%;border-radius:4px}
figcaption{font-size:12px;color:#4b5563}.note{color:#6b7280;font-style:italic}pre{background:#f3f4f6;padding:8px;overflow-x:auto;font-size:12px}
.facts th{width:90px}details{margin:6px 0}summary{cursor:pointer}
"""

CHECK_IMAGES = """
window.addEventListener('load',function(){var imgs=document.images,ok=0;for(var i=0;i<imgs.length;i++){
if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++}else{imgs[i].insertAdjacentHTML('afterend','<p class=note>picture missing</p>')}}
document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-images-ok',ok);});
"""


def _page(sections) -> str:
    nav = "".join(f"<a href='#{a}'>{html.escape(t)}</a>" for a, t, _ in sections)
    body = "".join(f"<section id='{a}'><h2>{html.escape(t)}</h2>{b}</section>" for a, t, b in sections)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>stcorr report</title>"
            f"<style>{STYLE}</style></head><body><header><h1>stcorr report</h1>"
            f"<p>space-time semantic correspondence, T@k-PCK</p></header><nav>{nav}</nav><main>{body}</main>"
            f"<script>{CHECK_IMAGES}</script></body></html>")


def _write_atomically(out_dir: Path, page: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "index.html"
    tmp = out_dir / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target
