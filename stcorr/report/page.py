"""Builds DIR/index.html from RESULTS.json files (docs/formats.md#resultsjson, with the optional keys
`stcorr eval` adds: per_action_type, per_moment, curves, per_pair, predictions, config, command,
checkpoint) and a run folder.

The page is self-contained: plots are inline SVG, pictures are data: URIs, no CDN, and a
Content-Security-Policy keeps the browser from fetching anything at all.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import yaml

from stcorr.files import write_file
import stcorr.report.plots as plots
from stcorr.report.inputs import KS, Result, Run, load_predictions, load_results, read_run
from stcorr.report.pairs import RANK_K, PairPicture, pair_pictures
from stcorr.viz import correspondence as viz

Section = tuple[str, str, str]  # anchor, title, body


def build_report(
    results: list[Path], out_dir: Path, run_dir: Path | None = None, max_pairs_per_action: int = 3
) -> Path:
    """Writes ``out_dir/index.html`` (atomically) and returns its path."""
    loaded = load_results([Path(p) for p in results])
    run = read_run(run_dir) if run_dir is not None else None
    sections = [
        ("overview", "Overview", _overview(loaded)),
        ("tables", "Scores", f'<div class="side">{_table3(loaded)}{_moments(loaded)}</div>{_table4(loaded)}'),
        ("plots", "Plots", _plots(loaded)),
        ("training", "Training", _training(run)),
        ("pairs", "Pairs", _pairs(loaded, max_pairs_per_action)),
        ("provenance", "Config and command", _provenance(loaded)),
    ]
    return write_file(Path(out_dir) / "index.html", _page(_subtitle(loaded), sections))


# --- text helpers ---------------------------------------------------------------------------------

def _pct(value) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}"


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _dot(result: Result) -> str:
    return f'<span class="dot" style="background:{result.colour}"></span>{escape(result.label)}'


def _number_cell(value, best: float | None = None) -> str:
    is_best = value is not None and best is not None and abs(float(value) - best) < 1e-12
    return f'<td class="num{" best" if is_best else ""}">{_pct(value)}</td>'


def _best(values: list) -> float | None:
    """The value to mark in bold: none when there is nothing to compare, or all are equal."""
    present = [float(v) for v in values if v is not None]
    return max(present) if len(present) > 1 and max(present) > min(present) else None


def _shared(loaded: list[Result], key: str) -> str:
    values = sorted({str(r.get(key, "?")) for r in loaded})
    return values[0] if len(values) == 1 else " / ".join(values)


# --- sections -------------------------------------------------------------------------------------

def _subtitle(loaded: list[Result]) -> str:
    parts = [f"data <code>{escape(_shared(loaded, 'data'))}</code>", f"split <b>{escape(_shared(loaded, 'split'))}</b>",
             f"setup <b>{escape(_shared(loaded, 'setup'))}</b>", f"alpha <b>{escape(_shared(loaded, 'alpha'))}</b>",
             f"{len(loaded)} result{'s' if len(loaded) > 1 else ''}"]
    return " · ".join(parts)


def _overview(loaded: list[Result]) -> str:
    rows = "".join(
        f"<tr><td>{_dot(r)}</td><td><code>{escape(str(r.path))}</code></td>"
        f'<td class="num">{r.get("n_pairs", "–")}</td><td class="num">{r.get("n_points", "–")}</td></tr>'
        for r in loaded
    )
    body = f"<table><tr><th>method</th><th>RESULTS.json</th><th>pairs</th><th>points</th></tr>{rows}</table>"
    differing = [key for key in ("data", "split", "setup", "alpha") if len({str(r.get(key)) for r in loaded}) > 1]
    if differing:
        body += _note(f"These results differ in {', '.join(differing)}: compare them with care.")
    for r in loaded:
        if r.get("failed_pairs"):
            first = (r.get("failures") or ["?"])[0]
            body += _note(f"{r.label}: {r.get('failed_pairs')} of {r.get('n_pairs', '?')} pairs failed and count as wrong "
                          f"(first: {first}).")
    return body


def _table3(loaded: list[Result]) -> str:
    best = {k: _best([r.score(k) for r in loaded]) for k in KS}
    rows = "".join(
        f"<tr><td>{_dot(r)}</td>" + "".join(_number_cell(r.score(k), best[k]) for k in KS)
        + f'<td class="num">{r.get("n_pairs", "–")}</td><td class="num">{r.get("n_points", "–")}</td></tr>'
        for r in loaded
    )
    head = "<tr><th>method</th>" + "".join(f"<th>T@{k}</th>" for k in KS) + "<th>pairs</th><th>points</th></tr>"
    alpha = loaded[0].get("alpha", 0.1)
    return f"<div><h3>T@k-PCK@{escape(str(alpha))} (%), all keypoints</h3><table>{head}{rows}</table></div>"


def _table4(loaded: list[Result]) -> str:
    actions = sorted({a for r in loaded for a in r.per_action} | {a for r in loaded for a in r.per_action_type})
    if not actions:
        return _note("No per-action scores in these results, so the per-action tables are left out.")
    body = "".join(_table4_at(loaded, actions, k) for k in KS)
    unsplit = [r.label for r in loaded if not r.per_action_type]
    if unsplit:
        body += _note(f"{', '.join(unsplit)}: no per_action_type in the results, so joints (hum) and "
                      "objects (obj) per action show as –.")
    return body


def _table4_at(loaded: list[Result], actions: list[str], k: str) -> str:
    keys = [(action, kind) for action in [*actions, None] for kind in ("hum", "obj", "all")]
    columns = [[_split_score(r, action, kind, k) for r in loaded] for action, kind in keys]
    bests = [_best(values) for values in columns]
    names = [a.replace("_", " ") for a in actions] + ["all actions"]
    head = ('<tr><th rowspan="2">method</th>'
            + "".join(f'<th colspan="3" class="group">{escape(name)}</th>' for name in names)
            + "</tr><tr>" + '<th class="sub">hum</th><th class="sub">obj</th><th class="sub all">all</th>' * len(names)
            + "</tr>")
    rows = "".join(
        f"<tr><td>{_dot(r)}</td>" + "".join(_number_cell(column[i], best) for column, best in zip(columns, bests)) + "</tr>"
        for i, r in enumerate(loaded)
    )
    return f'<h3>T@{k}-PCK (%) per action and keypoint type</h3><div class="wide"><table class="t4">{head}{rows}</table></div>'


def _split_score(result: Result, action: str | None, kind: str, k: str) -> float | None:
    """T@k of one action (None: all actions) for joints (hum), objects (obj) or both (all)."""
    if action is None:
        return result.score(k) if kind == "all" else result.per_type.get(kind, {}).get(f"T@{k}")
    if kind == "all":
        return result.per_action.get(action, {}).get(f"T@{k}")
    return result.per_action_type.get(action, {}).get(kind, {}).get(f"T@{k}")


def _moments(loaded: list[Result]) -> str:
    keys = sorted({m for r in loaded for m in (r.get("per_moment") or {})})
    if not keys:
        return _note("No per key moment scores in these results.")
    head = "<tr><th>action / key moment</th>" + "".join(f"<th>{_dot(r)}</th>" for r in loaded) + "</tr>"
    rows = ""
    for key in keys:
        values = [(r.get("per_moment") or {}).get(key, {}).get("T@5") for r in loaded]
        best = _best(values)
        rows += f"<tr><td>{escape(key)}</td>" + "".join(_number_cell(v, best) for v in values) + "</tr>"
    return f"<div><h3>T@5-PCK (%) per key moment</h3><table>{head}{rows}</table></div>"


def _plots(loaded: list[Result]) -> str:
    figures = [("narrow", plots.pck_vs_k(loaded)), ("wide", plots.pck_vs_alpha(loaded)),
               ("full", plots.per_action_bars(loaded, RANK_K))]
    body = '<div class="plots">' + "".join(f'<figure class="{size}">{svg}</figure>' for size, svg in figures if svg)
    body += "</div>"
    without_curves = [r.label for r in loaded if not isinstance(r.get("curves"), dict)]
    if without_curves:
        body += _note(f"{', '.join(without_curves)}: these results hold no curves (PCK against k and alpha).")
    if figures[2][1] is None:
        body += _note("No per-action scores, so the per-action bar chart is left out.")
    return body


def _training(run: Run | None) -> str:
    if run is None:
        return _note("No run folder given (stcorr report ... --run RUN), so no training curves.")
    svg = plots.training_curves(run)
    body = f'<figure class="full">{svg}</figure>' if svg else _note(f"No train_log.csv or val_log.csv in {run.folder}.")
    if svg and not run.val_rows:
        body += _note(f"No val_log.csv in {run.folder}: the run logged no validation.")
    if run.config_text is not None:
        body += f"<details><summary>resolved config ({escape(str(run.folder / 'config.yaml'))})</summary>" \
                f"<pre>{escape(run.config_text)}</pre></details>"
    return body


def _pairs(loaded: list[Result], per_action: int) -> str:
    parts = [f"<p>For each action, the best, the median and the worst pair by T@{RANK_K}: source frames at the "
             "key moments above, target frames at the predicted times below. A line is green where the prediction "
             f"is correct at T@{RANK_K}-PCK, red where it misses (a thin red line leads on to the truth).</p>",
             PAIR_LEGEND]
    for result in loaded:
        parts.append(f"<h3>{_dot(result)}</h3>")
        records, why_not = load_predictions(result)
        if records is None:
            parts.append(_note(f"{result.label}: {why_not}, so no pair pictures."))
            continue
        pictures, notes = pair_pictures(result, records, per_action)
        parts += [_note(n) for n in notes]
        for action in dict.fromkeys(p.action for p in pictures):
            figures = "".join(_pair_figure(p) for p in pictures if p.action == action)
            parts.append(f'<h4>{escape(action.replace("_", " "))}</h4><div class="pairs">{figures}</div>')
    return "".join(parts)


def _pair_figure(picture: PairPicture) -> str:
    caption = (f"<b>{escape(picture.rank)}</b> · {escape(picture.source)} → {escape(picture.target)} · "
               f"T@{RANK_K} {_pct(picture.score)}%")
    if picture.uri is None:
        return f'<figure class="pair missing"><figcaption>{caption}</figcaption>{_note(picture.problem or "")}</figure>'
    alt = escape(f"{picture.action}, {picture.rank}: {picture.source} to {picture.target}")
    return f'<figure class="pair"><img alt="{alt}" src="{picture.uri}"><figcaption>{caption}</figcaption></figure>'


def _swatch(shape: str, colour: tuple[int, int, int]) -> str:
    return f'<span class="sw {shape}" style="--c:rgb{colour}"></span>'


PAIR_LEGEND = '<p class="legend">' + "".join(
    f"{_swatch(shape, colour)}{label}"
    for shape, colour, label in [
        ("circle", viz.SOURCE_COLOUR, "source keypoint"), ("diamond", viz.PREDICTION_COLOUR, "prediction"),
        ("hollow", viz.PREDICTION_COLOUR, "prediction in another frame"), ("cross", viz.TRUTH_COLOUR, "ground truth"),
        ("line", viz.CORRECT_COLOUR, "correct"), ("line", viz.MISS_COLOUR, "miss"),
    ]
) + "</p>"


def _provenance(loaded: list[Result]) -> str:
    parts = []
    for r in loaded:
        command = r.get("command") or "(not recorded)"
        config = yaml.safe_dump(r.get("config"), sort_keys=False) if r.get("config") else "(not recorded)"
        checkpoint = r.get("checkpoint") or "(none)"
        parts.append(
            f"<details><summary>{_dot(r)} <code>{escape(str(r.path))}</code></summary>"
            f"<h4>command</h4><pre>{escape(command)}</pre><h4>checkpoint</h4><pre>{escape(str(checkpoint))}</pre>"
            f"<h4>config</h4><pre>{escape(config)}</pre></details>"
        )
    return "".join(parts)


# --- the page -------------------------------------------------------------------------------------

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
:root{--ink:#1d2330;--muted:#6b7280;--line:#e5e7eb;--panel:#fff;--accent:#2563eb}
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:var(--ink);background:#f4f5f8}
header{background:linear-gradient(90deg,#172033,#24324d);color:#fff;padding:20px 32px 16px}
header h1{margin:0;font-size:22px;letter-spacing:.2px}header p{margin:6px 0 0;color:#c3cad6}
header code{color:#fff;background:rgba(255,255,255,.1);padding:1px 5px;border-radius:4px}
nav{position:sticky;top:0;z-index:1;padding:8px 32px;background:#e8ebf1;border-bottom:1px solid #d8dce4}
nav a{margin-right:18px;color:var(--accent);text-decoration:none;font-weight:500}nav a:hover{text-decoration:underline}
main{padding:4px 32px 40px;max-width:1480px}
section{background:var(--panel);border-radius:10px;padding:6px 22px 18px;margin:18px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:18px;border-bottom:1px solid var(--line);padding-bottom:6px}h3{font-size:15px;margin:18px 0 6px}
details h4{font-size:12px;margin:10px 0 2px;color:var(--muted);text-transform:uppercase;letter-spacing:.5px}
table{border-collapse:collapse;margin:6px 0 14px}th,td{padding:4px 9px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{background:#f1f3f6;font-weight:600}th.group{text-align:center;border-left:2px solid #fff}th.sub{text-align:right;font-weight:500;color:#4b5563}
th.all{color:var(--ink)}td.num{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:700;color:#0b6b2b}
.t4 td:nth-child(3n+4){border-right:1px solid var(--line)}tr:hover td{background:#fafbfd}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:7px;vertical-align:baseline}
.wide{overflow-x:auto}code{font-size:12px}
.side{display:flex;flex-wrap:wrap;gap:8px 40px;align-items:flex-start}
.t4{font-size:12px}.t4 th,.t4 td{padding:3px 4px}
.plots{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}figure{margin:0}
.plots figure{flex:0 1 auto;min-width:0}figure svg{display:block;max-width:100%;height:auto}
.pairs{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px;margin-bottom:10px}
.pair{background:#fafbfc;border:1px solid var(--line);border-radius:8px;padding:8px}
.pair img{display:block;max-width:100%;border-radius:4px}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;align-items:center;font-size:13px}
.sw{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle;background:var(--c);border:1px solid #000}
.sw.circle{border-radius:50%}.sw.diamond,.sw.hollow{transform:rotate(45deg) scale(.85)}.sw.hollow{background:none;border:2px solid var(--c)}
.sw.cross{background:none;border:none;position:relative}.sw.cross::before,.sw.cross::after{content:"";position:absolute;left:5px;top:-1px;
width:3px;height:14px;background:var(--c);transform:rotate(45deg)}.sw.cross::after{transform:rotate(-45deg)}
.sw.line{width:20px;height:3px;border:none}
h4{font-size:13px;margin:14px 0 6px;color:var(--ink);text-transform:none;letter-spacing:0}
figcaption{font-size:12px;color:#4b5563;margin-top:6px}.note{color:var(--muted);font-style:italic}
pre{background:#f3f4f6;padding:8px 10px;overflow-x:auto;font-size:12px;border-radius:6px;margin:2px 0}
details{margin:8px 0;border:1px solid var(--line);border-radius:8px;padding:6px 12px}summary{cursor:pointer}
"""

# Marks each picture that did not decode and counts them on <body>, which the browser test reads.
CHECK_IMAGES = """
window.addEventListener('load',function(){var imgs=document.images,ok=0;for(var i=0;i<imgs.length;i++){
if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++}else{imgs[i].insertAdjacentHTML('afterend','<p class="note">picture missing</p>')}}
document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-images-ok',ok);});
"""


def _page(subtitle: str, sections: list[Section]) -> str:
    nav = "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t, _ in sections)
    body = "".join(f'<section id="{a}"><h2>{escape(t)}</h2>{b}</section>' for a, t, b in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>stcorr report</title><style>{STYLE}</style></head><body>"
        f"<header><h1>stcorr report: space-time semantic correspondence</h1><p>{subtitle}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main><script>{CHECK_IMAGES}</script></body></html>"
    )
