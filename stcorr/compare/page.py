"""DIR/index.html: the comparison as one self-contained page (no network, as ``stcorr.report.page``).

The two videos play side by side on one scrubber: the reference's frames (at most
``MAX_FRAMES``, the key moments always among them) and the attempt's aligned frames, inlined as
JPEG data URIs ``FRAME_HEIGHT`` pixels high. A click on the reference frame shows its match in
the attempt's frame: at a key moment near one of its matched points, that point's match from
compare.json; anywhere else, the bilinear interpolation of a ``CELLS`` x ``CELLS`` grid of matches
computed here (``spatial.pose_warp``), so the page needs no server. Below: the timings, the angle
table of each key moment and the angles over time. Overlays are SVG in native pixel coordinates
(viewBox -0.5 -0.5 W H, so a point (x, y) of docs/formats.md#coordinates sits where it is on the frame).
"""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from stcorr.pose.angles import ANGLE_NAMES, angle_series
from stcorr.pose.skeleton import LIMBS
from stcorr.pose.track import filled_joints
from stcorr.compare.overlay import TRACE_JOINTS, TRACE_SECONDS, overlay_transforms, trace_points, warp_attempt
from stcorr.compare.pipeline import MIN_CONFIDENCE, Comparison
from stcorr.compare.render import at_scale, joint_colour
from stcorr.compare.spatial import grid_points, pose_warp
from stcorr.compare.summary import below_floor
from stcorr.files import write_file

MAX_FRAMES = 120
FRAME_HEIGHT = 240
CELLS = 16
PLOT_POINTS = 300
PANEL_HEIGHT = 400  # CSS pixels: the frames' height on a wide enough screen
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"  # as the report's


def shown_frames(n: int, key_frames: list[int], max_frames: int = MAX_FRAMES) -> list[int]:
    """Reference frames the page holds: all when few, else evenly spread, with the key moments."""
    frames = set(range(n)) if n <= max_frames else set(np.linspace(0, n - 1, max_frames).round().astype(int).tolist())
    return sorted(frames | set(key_frames))


def jpeg_uri(frame: np.ndarray, height: int = FRAME_HEIGHT, quality: int = 75) -> str:
    image = at_scale(frame, height / frame.shape[0]) if frame.shape[0] > height else Image.fromarray(frame)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _points(joints: dict) -> dict:
    return {name: [round(x, 1), round(y, 1)] for name, (x, y) in joints.items()}


def frame_records(comparison: Comparison, frames: list[int], traces: Sequence[str] = TRACE_JOINTS,
                  cells: int = CELLS) -> list[dict]:
    """Per shown frame: both pictures, the attempt warped onto the reference (``overlay``), both
    skeletons, the traced joints (the attempt's in reference pixels) and the grid of matches
    (None where no body)."""
    width, height = comparison.reference.size
    grid = grid_points(width, height, cells)
    smoothing = 0.05 * max(comparison.attempt.size)
    transforms = overlay_transforms(comparison)
    ref_traces, att_traces = trace_points(comparison, transforms, traces)
    scale = min(FRAME_HEIGHT, height) / height
    records = []
    for t, ref_frame in zip(frames, comparison.reference.iter_frames(frames)):
        u = int(comparison.attempt_times[t])
        ref_joints = comparison.reference_joints.joints_at(t, MIN_CONFIDENCE)
        att_joints = comparison.attempt_joints.joints_at(u, MIN_CONFIDENCE)
        warped = pose_warp(grid, ref_joints, att_joints, smoothing)
        att_frame = comparison.attempt.frame(u)
        records.append({"t": t, "u": u, "ref": jpeg_uri(ref_frame), "att": jpeg_uri(att_frame),
                        "warp": jpeg_uri(np.asarray(warp_attempt(att_frame, transforms[t], (width, height), scale))),
                        "refJoints": _points(ref_joints), "attJoints": _points(att_joints),
                        "refTrace": _rounded(ref_traces[t]), "attTrace": _rounded(att_traces[t]),
                        "grid": None if warped is None else np.round(warped, 1).tolist()})
    return records


def _rounded(points: np.ndarray) -> list:
    """(J, 2) points as JSON: [x, y] rounded, or None where NaN."""
    return [None if not np.isfinite(p).all() else [round(float(p[0]), 1), round(float(p[1]), 1)] for p in points]


def angle_plots(comparison: Comparison) -> str:
    """One small SVG per angle: the reference's (solid) and the aligned attempt's (dashed) over reference time."""
    world = comparison.record.get("angles_from", "").startswith("world")  # the angles the tables hold
    ref = angle_series(filled_joints(comparison.reference_joints, world=world))
    att = angle_series(filled_joints(comparison.attempt_joints, world=world))[comparison.attempt_times]
    n = len(ref)
    rows = np.unique(np.linspace(0, n - 1, min(n, PLOT_POINTS)).round().astype(int))
    moments = [m["reference_t"] for m in comparison.record["key_moments"]]
    figures = [_plot(name, rows, ref[rows, k], att[rows, k], n, moments) for k, name in enumerate(ANGLE_NAMES)]
    return "".join(f for f in figures if f)


def _plot(name: str, rows: np.ndarray, ref: np.ndarray, att: np.ndarray, n: int, moments: list[int]) -> str:
    values = np.concatenate([ref, att])
    values = values[np.isfinite(values)]
    if not values.size:
        return ""
    w, h, pad = 240.0, 110.0, 22.0
    low, high = float(values.min()) - 5, float(values.max()) + 5

    def sx(t):
        return pad + (w - pad - 4) * t / max(n - 1, 1)

    def sy(v):
        return h - 14 - (h - 24) * (v - low) / (high - low)

    def line(series, style):
        parts, run = [], []
        for t, v in zip(rows, series):
            if np.isfinite(v):
                run.append(f"{sx(t):.1f},{sy(v):.1f}")
            elif run:
                parts.append(run)
                run = []
        parts.append(run)
        return "".join(f'<polyline points="{" ".join(p)}" class="{style}"/>' for p in parts if len(p) > 1)

    marks = "".join(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="8" y2="{h - 14}" class="km"/>' for t in moments)
    labels = (f'<text x="2" y="{sy(high - 5) + 4:.0f}">{high - 5:.0f}</text>'
              f'<text x="2" y="{sy(low + 5):.0f}">{low + 5:.0f}</text>')
    return (f'<figure><figcaption>{escape(name.replace("_", " "))} (degrees)</figcaption>'
            f'<svg viewBox="0 0 {w:.0f} {h:.0f}" width="{w:.0f}" height="{h:.0f}">{marks}{labels}'
            f'{line(ref, "ref")}{line(att, "att")}'
            f'<line class="cursor" x1="{pad}" x2="{pad}" y1="8" y2="{h - 14}" data-n="{n}" data-pad="{pad}" data-w="{w - pad - 4}"/>'
            f'</svg></figure>')


def timing_table(record: dict) -> str:
    head = ("<tr><th>key moment</th><th>reference t</th><th>reference s</th><th>since previous</th>"
            "<th>attempt t</th><th>attempt s</th><th>since previous</th><th>difference</th></tr>")
    rows = "".join(
        f"<tr><td>{_moment_name(i, m)}</td><td class=num>{m['reference_t']}</td><td class=num>{m['reference_s']:.2f}</td>"
        f"<td class=num>{m['reference_since_previous_s']:.2f}</td><td class=num>{m['attempt_t']}</td>"
        f"<td class=num>{m['attempt_s']:.2f}</td><td class=num>{m['attempt_since_previous_s']:.2f}</td>"
        f"<td class=num>{m['attempt_since_previous_s'] - m['reference_since_previous_s']:+.2f} s</td></tr>"
        for i, m in enumerate(record["key_moments"]))
    return f"<table>{head}{rows}</table>"


def angle_tables(record: dict) -> str:
    parts = []
    floor = record.get("noise_floor_deg") or {}
    for i, moment in enumerate(record["key_moments"]):
        rows = "".join(
            f"<tr><td>{escape(a['joint'].replace('_', ' '))}</td><td class=num>{a['reference_deg']:.1f}</td>"
            f"<td class=num>{a['attempt_deg']:.1f}</td><td class='num {_tone(a, floor)}'>{a['difference_deg']:+.1f}</td></tr>"
            for a in moment["angles"])
        by = sorted({p["by"] for p in moment["points"]}) or ["none"]
        parts.append(f"<div><h3>{_moment_name(i, moment)}</h3><table><tr><th>angle</th><th>reference</th><th>attempt</th>"
                     f"<th>difference</th></tr>{rows}</table><p class=note>points matched by {', '.join(by)}</p></div>")
    return '<div class="side">' + "".join(parts) + "</div>" if parts else '<p class="note">No key moments.</p>'


def _tone(row: dict, floor: dict[str, float]) -> str:
    difference = row["difference_deg"]
    if floor and below_floor(row, floor):
        return "noise"
    return "big" if abs(difference) >= 15 else "mid" if abs(difference) >= 7 else ""


def rep_table(record: dict) -> str:
    """The per-rep table of the attempt (and of the reference when it has several)."""
    parts = []
    for video in ("attempt", "reference"):
        rows = record.get("reps", {}).get(video) or []
        if not rows or (video == "reference" and len(rows) < 2):
            continue
        body = "".join(
            f"<tr><td class=num>{r['rep']}</td><td class=num>{r['start_t']}-{r['end_t']}</td><td class=num>{r['start_s']:.2f}</td>"
            f"<td class=num>{r['duration_s']:.2f}</td><td class=num>{_number(r.get('knee_flexion_max_deg'))}</td>"
            f"<td class=num>{r.get('depth_rank', '')}</td><td class=num>{_number(r.get('distance_to_reference'), 3)}</td></tr>"
            for r in rows)
        parts.append(f"<h3>{video}: {len(rows)} rep{'' if len(rows) == 1 else 's'}</h3><table class=reps><tr><th>rep</th><th>frames</th>"
                     "<th>starts (s)</th><th>lasts (s)</th><th>deepest knee flexion</th><th>depth rank</th>"
                     f"<th>distance to the reference</th></tr>{body}</table>")
    return "".join(parts) or '<p class="note">No repetition found (a rep is one dip of the movement from rest and back).</p>'


def _number(value, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _moment_name(index: int, moment: dict) -> str:
    return f"{index + 1}. " + escape(moment["name"] or f"frame {moment['reference_t']}")


def page_data(comparison: Comparison, traces: Sequence[str] = TRACE_JOINTS) -> dict:
    record = comparison.record
    frames = shown_frames(comparison.reference.num_frames, [m["reference_t"] for m in record["key_moments"]])
    named = {p["name"] for k in record["key_moments"] for p in k["points"]} | set(traces)
    return {"fps": record["fps"], "sizes": record["sizes"], "cells": CELLS, "traces": list(traces),
            "traceFrames": max(1, round(TRACE_SECONDS * record["fps"][0])),
            "limbs": LIMBS, "colours": {m: "rgb{}".format(joint_colour(m)) for m in named},
            "moments": record["key_moments"], "frames": frame_records(comparison, frames, traces)}


def build_page(comparison: Comparison, path: str | Path, traces: Sequence[str] = TRACE_JOINTS) -> Path:
    """Writes the page (atomically)."""
    record = comparison.record
    data = json.dumps(page_data(comparison, traces), allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    (rw, rh), (aw, ah) = record["sizes"]
    summary = "".join(f"<li>{escape(line)}</li>" for line in record["summary"])
    buttons = "".join(f'<button class="km" data-t="{m["reference_t"]}">{_moment_name(i, m)}</button>'
                      for i, m in enumerate(record["key_moments"]))
    convention = record.get("angle_convention", {}).get("name", "")
    view = record.get("view_difference_deg")
    body = f"""
<header><h1>stcorr compare</h1><p>reference <code>{escape(record['reference'])}</code> · attempt
<code>{escape(record['attempt'])}</code> · time alignment {escape(record['method'])} · joints from {escape(record['pose'])}
{' · model ' + escape(record['checkpoint']) if record.get('checkpoint') else ''} · angles {escape(record.get('angles_from', ''))}, convention {escape(convention)}
{'' if view is None else f' · views {view:.0f} degrees apart'}</p></header>
<main><section id="summary"><h2>The largest differences</h2><ul>{summary}</ul></section>
<section id="videos"><h2>Aligned videos</h2>
<p class="note">Click the reference frame: the marker on the attempt shows the matching point of its aligned frame.
Keys: space play/pause, &larr; &rarr; one frame, o overlay (off, ghost, split), t traces, 1 2 3 4 speed.</p>
<div class="stage" style="max-width:{PANEL_HEIGHT * (rw / rh + aw / ah) + 12:.0f}px">{_panel("ref", "reference", rw, rh, overlay=True)}{_panel("att", "attempt (aligned)", aw, ah)}</div>
<div class="controls"><button id="prev" title="previous frame (left arrow)">&#9664;</button><button id="play">play</button>
<button id="next" title="next frame (right arrow)">&#9654;</button><input id="scrub" type="range" min="0" value="0" step="1">
<label>speed <select id="speed"><option value="0.25">0.25x</option><option value="0.5">0.5x</option><option value="0.75">0.75x</option><option value="1" selected>1x</option></select></label>
<span id="frame-label"></span></div>
<div class="controls"><label>overlay <select id="overlay"><option value="off">off</option><option value="ghost">ghost (attempt over reference)</option>
<option value="split">split line</option></select></label><input id="split" type="range" min="0" max="100" value="50" title="split line position">
<label><input id="traces" type="checkbox" checked> traces ({escape(', '.join(t.replace('_', ' ') for t in traces))}: reference line, attempt dots)</label></div>
<div class="moments">{buttons}</div><p id="match-label" class="note"></p></section>
<section id="timing"><h2>Timing</h2>{timing_table(record)}</section>
<section id="reps"><h2>Every rep</h2>{rep_table(record)}</section>
<section id="angles"><h2>Joint angles at the key moments</h2><p class="note">Flexion: 0 = straight, larger = more bent; shoulder
elevation: 0 = arm down; trunk lean: 0 = upright. Grey: within the noise floor (what the same performance filmed twice differs by, plus the angle's own movement within a frame), not a difference.</p>{angle_tables(record)}</section>
<section id="plots"><h2>Angles over time</h2><p class="legend"><span class="sw ref"></span>reference
<span class="sw att"></span>attempt (aligned) <span class="sw km"></span>key moment</p><div class="plots">{angle_plots(comparison)}</div></section>
</main><script type="application/json" id="data">{data}</script><script>{SCRIPT}</script>"""
    html = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>stcorr compare</title><style>{STYLE}</style></head><body>{body}</body></html>")
    return write_file(path, html)


def _panel(key: str, title: str, width: int, height: int, overlay: bool = False) -> str:
    # panels grow in proportion to their aspect ratio, so both frames show at the same height
    ghost = f'<img id="{key}-ov" class="ov" alt="attempt warped onto the reference" hidden><div id="{key}-line" class="split-line" hidden></div>' if overlay else ""
    return (f'<figure class="panel" style="flex:{width / height:.4f} 1 0"><div class="frame"><img id="{key}-img" alt="{title} frame">{ghost}'
            f'<svg id="{key}-svg" viewBox="-0.5 -0.5 {width} {height}" preserveAspectRatio="none"></svg></div>'
            f'<figcaption id="{key}-cap">{title}</figcaption></figure>')


STYLE = """
*{box-sizing:border-box}body{font:14px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#f4f5f8}
header{background:linear-gradient(90deg,#172033,#24324d);color:#fff;padding:16px 28px}header h1{margin:0;font-size:21px}
header p{margin:4px 0 0;color:#c3cad6}header code{color:#fff}main{padding:4px 28px 30px;max-width:1400px}
section{background:#fff;border-radius:10px;padding:4px 20px 14px;margin:14px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:17px;border-bottom:1px solid #e5e7eb;padding-bottom:5px}h3{font-size:14px;margin:10px 0 4px}
.stage{display:flex;gap:12px;align-items:flex-start}.panel{margin:0;min-width:0}.frame{position:relative;line-height:0}
.frame img{width:100%;height:auto;display:block;border-radius:4px;background:#222}
.frame svg{position:absolute;left:0;top:0;width:100%;height:100%}#ref-svg{cursor:crosshair}
figcaption{font-size:12px;color:#4b5563}.controls{display:flex;gap:10px;align-items:center;margin:8px 0}
#scrub{flex:1;max-width:700px}button{font:inherit;padding:3px 10px;border-radius:6px;border:1px solid #c7cdd8;background:#f8f9fb;cursor:pointer}
button.km{margin:0 6px 6px 0;border-color:#d9a400}table{border-collapse:collapse;margin:4px 0 8px}
th,td{padding:3px 9px;border-bottom:1px solid #e5e7eb;text-align:left;white-space:nowrap}th{background:#f1f3f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.big{color:#b91c1c;font-weight:700}td.mid{color:#b45309}td.noise{color:#9ca3af}
.frame img.ov{position:absolute;left:0;top:0;width:100%;height:100%}.split-line{position:absolute;top:0;bottom:0;width:2px;background:#ffd60a}
#split{width:140px}select{font:inherit}[hidden]{display:none!important}
.side{display:flex;flex-wrap:wrap;gap:4px 32px}.note{color:#6b7280;font-style:italic}
.plots{display:flex;flex-wrap:wrap;gap:10px}.plots figure{margin:0}.plots svg{display:block;background:#fafbfc;border-radius:4px}
.plots text{font-size:9px;fill:#6b7280}polyline{fill:none;stroke-width:1.6}polyline.ref{stroke:#2563eb}
polyline.att{stroke:#dc2626;stroke-dasharray:4 2}line.km{stroke:#d9a400;stroke-width:1}line.cursor{stroke:#111;stroke-width:1}
.sw{display:inline-block;width:18px;height:3px;margin:0 5px 3px 12px;vertical-align:middle}.sw.ref{background:#2563eb}
.sw.att{background:#dc2626}.sw.km{background:#d9a400}
"""

SCRIPT = r"""
(function(){
const D=JSON.parse(document.getElementById('data').textContent);
const [RW,RH]=D.sizes[0],[AW,AH]=D.sizes[1],NS='http://www.w3.org/2000/svg';
const scrub=document.getElementById('scrub'),refSvg=document.getElementById('ref-svg'),attSvg=document.getElementById('att-svg');
scrub.max=D.frames.length-1;let index=0,timer=null;
function el(name,attrs,parent){const e=document.createElementNS(NS,name);for(const k in attrs)e.setAttribute(k,attrs[k]);parent.appendChild(e);return e;}
function skeleton(svg,joints,size){const w=Math.max(size[0],size[1])/150;
 for(const [a,b] of D.limbs){if(joints[a]&&joints[b])el('line',{x1:joints[a][0],y1:joints[a][1],x2:joints[b][0],y2:joints[b][1],stroke:'rgba(255,255,255,.75)','stroke-width':w},svg);}}
function probe(svg,id,x,y,size){el('circle',{class:'probe',cx:x,cy:y,r:size/32,fill:'none',stroke:'#000','stroke-width':size/70},svg);
 return el('circle',{class:'probe',id:id,cx:x,cy:y,r:size/32,fill:'none',stroke:'#39ff14','stroke-width':size/150},svg);}
function moment(t){return D.moments.find(m=>m.reference_t===t);}
const ov=document.getElementById('ref-ov'),splitLine=document.getElementById('ref-line'),overlaySel=document.getElementById('overlay'),
 splitIn=document.getElementById('split'),tracesIn=document.getElementById('traces'),speedSel=document.getElementById('speed');
function overlay(f){const mode=overlaySel.value;ov.hidden=mode==='off';splitLine.hidden=mode!=='split';ov.src=f.warp;
 if(mode==='ghost'){ov.style.opacity=0.5;ov.style.clipPath='none';}
 if(mode==='split'){const x=+splitIn.value;ov.style.opacity=1;ov.style.clipPath='inset(0 0 0 '+x+'%)';splitLine.style.left=x+'%';}}
function traces(i){if(!tracesIn.checked)return;const t=D.frames[i].t,first=D.frames.findIndex(f=>f.t>=t-D.traceFrames),w=Math.max(RW,RH)/160;
 D.traces.forEach((name,k)=>{const c=D.colours[name]||'#fc0',ref=[],att=[];
  for(let j=Math.max(first,0);j<=i;j++){const f=D.frames[j];if(f.refTrace[k])ref.push(f.refTrace[k].join(','));if(f.attTrace[k])att.push(f.attTrace[k]);}
  if(ref.length>1)el('polyline',{class:'trace ref',points:ref.join(' '),fill:'none',stroke:c,'stroke-width':w},refSvg);
  for(const p of att)el('circle',{class:'trace att',cx:p[0],cy:p[1],r:w*1.2,fill:'none',stroke:c,'stroke-width':w/2},refSvg);});}
function show(i){index=i;const f=D.frames[i];scrub.value=i;
 document.getElementById('ref-img').src=f.ref;document.getElementById('att-img').src=f.att;
 refSvg.innerHTML='';attSvg.innerHTML='';overlay(f);traces(i);skeleton(refSvg,f.refJoints,D.sizes[0]);skeleton(attSvg,f.attJoints,D.sizes[1]);
 const m=moment(f.t),r=Math.max(RW,RH)/90;
 if(m){for(const p of m.points){const c=D.colours[p.name]||'#fc0';
  el('circle',{cx:p.reference[1],cy:p.reference[2],r:r,fill:c,stroke:'#000','stroke-width':r/3},refSvg);
  el('circle',{cx:p.attempt[1],cy:p.attempt[2],r:Math.max(AW,AH)/90,fill:c,stroke:'#000','stroke-width':r/3},attSvg);}}
 document.getElementById('ref-cap').textContent='reference t='+f.t+' ('+(f.t/D.fps[0]).toFixed(2)+' s)';
 document.getElementById('att-cap').textContent='attempt (aligned) t='+f.u+' ('+(f.u/D.fps[1]).toFixed(2)+' s)';
 document.getElementById('frame-label').textContent=m?('key moment: '+(m.name||('frame '+m.reference_t))):'';
 document.querySelectorAll('line.cursor').forEach(l=>{const x=+l.dataset.pad+(+l.dataset.w)*f.t/Math.max(+l.dataset.n-1,1);l.setAttribute('x1',x);l.setAttribute('x2',x);});
 document.getElementById('match-label').textContent='';}
function gridMatch(f,x,y){if(!f.grid)return null;const c=D.cells,g=(i,j)=>f.grid[j*c+i];
 const fx=Math.min(Math.max((x+0.5)*c/RW-0.5,0),c-1),fy=Math.min(Math.max((y+0.5)*c/RH-0.5,0),c-1);
 const i0=Math.min(Math.floor(fx),c-2),j0=Math.min(Math.floor(fy),c-2),wx=fx-i0,wy=fy-j0;
 const a=g(i0,j0),b=g(i0+1,j0),cc=g(i0,j0+1),d=g(i0+1,j0+1);
 return [0,1].map(k=>(1-wy)*((1-wx)*a[k]+wx*b[k])+wy*((1-wx)*cc[k]+wx*d[k]));}
function match(f,x,y){const m=moment(f.t);
 if(m){let best=null,bd=0.03*Math.max(RW,RH);for(const p of m.points){const dd=Math.hypot(p.reference[1]-x,p.reference[2]-y);if(dd<=bd){bd=dd;best=p;}}
  if(best)return {xy:[best.attempt[1],best.attempt[2]],t:best.attempt[0],how:best.name+', key-moment point matched by '+best.by};}
 const xy=gridMatch(f,x,y);return xy?{xy:xy,t:f.u,how:'interpolated from the pose grid'}:null;}
refSvg.addEventListener('click',e=>{const b=refSvg.getBoundingClientRect(),f=D.frames[index];
 const x=(e.clientX-b.left)/b.width*RW-0.5,y=(e.clientY-b.top)/b.height*RH-0.5;
 refSvg.querySelectorAll('.probe').forEach(n=>n.remove());attSvg.querySelectorAll('.probe').forEach(n=>n.remove());
 probe(refSvg,'ref-marker',x,y,Math.max(RW,RH));
 const found=match(f,x,y),label=document.getElementById('match-label');
 if(!found){label.textContent='no match: no body found in one of the frames';return;}
 const mk=probe(attSvg,'att-marker',found.xy[0],found.xy[1],Math.max(AW,AH));
 mk.dataset.x=found.xy[0];mk.dataset.y=found.xy[1];mk.dataset.t=found.t;
 label.textContent='('+x.toFixed(1)+', '+y.toFixed(1)+') of reference frame '+f.t+' -> ('+found.xy[0].toFixed(1)+', '+found.xy[1].toFixed(1)+') of attempt frame '+found.t+' ('+found.how+')';});
scrub.addEventListener('input',()=>show(+scrub.value));
document.querySelectorAll('button.km').forEach(b=>b.addEventListener('click',()=>{stop();show(D.frames.findIndex(f=>f.t===+b.dataset.t));}));
function stop(){if(timer){clearInterval(timer);timer=null;document.getElementById('play').textContent='play';}}
function play(){stop();document.getElementById('play').textContent='pause';const step=D.frames.length>1?(D.frames[D.frames.length-1].t/(D.frames.length-1)):1;
 timer=setInterval(()=>show((index+1)%D.frames.length),1000*step/D.fps[0]/(+speedSel.value));}
function toggle(){if(timer)stop();else play();}
function step(d){stop();show(Math.min(Math.max(index+d,0),D.frames.length-1));}
document.getElementById('play').addEventListener('click',toggle);
document.getElementById('prev').addEventListener('click',()=>step(-1));document.getElementById('next').addEventListener('click',()=>step(1));
speedSel.addEventListener('change',()=>{if(timer)play();});
[overlaySel,splitIn,tracesIn].forEach(e=>e.addEventListener('input',()=>show(index)));overlaySel.addEventListener('change',()=>show(index));
document.addEventListener('keydown',e=>{if(e.target.tagName==='INPUT'&&e.target.type!=='checkbox'||e.target.tagName==='SELECT')return;
 const modes=['off','ghost','split'],speeds={'1':'0.25','2':'0.5','3':'0.75','4':'1'};
 if(e.key===' '){e.preventDefault();toggle();}else if(e.key==='ArrowLeft'){e.preventDefault();step(-1);}else if(e.key==='ArrowRight'){e.preventDefault();step(1);}
 else if(e.key==='o'){overlaySel.value=modes[(modes.indexOf(overlaySel.value)+1)%3];show(index);}
 else if(e.key==='t'){tracesIn.checked=!tracesIn.checked;show(index);}
 else if(speeds[e.key]){speedSel.value=speeds[e.key];if(timer)play();}});
show(0);document.body.dataset.ready='1';
})();
"""
