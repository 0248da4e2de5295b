"""One reference against a folder of attempts: each attempt compared on its own, then all ranked as reps are.

    results = compare_attempts("pro.mp4", "takes/", action="squat")   # [(name, Comparison or the reason it failed)]
    write_attempts(results, "out/")   # out/attempts.json, out/index.html, out/attempts/NAME/ (compare's four files each)

The attempts are the folder's video files and its folders of frames, by name. Each is compared
with the reference as ``stcorr compare REFERENCE ATTEMPT`` would (``pipeline.analyse``); one the
comparison refuses (nobody in it, too short) is listed with its reason, the others still run.
Ranked, as ``reps`` ranks the reps of one video: by the deepest knee flexion of the frames compared
(1 = deepest), and by the distance to the reference's movement (DTW on the pose descriptors, 1 =
moves most like it); both on 3D joints when any attempt was compared in 3D (the views differ),
else on image joints.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Sequence

import numpy as np

import stcorr.compare.align as align
from stcorr.compare.outputs import check_out_folder, write_comparison_files
from stcorr.compare.overlay import TRACE_JOINTS
from stcorr.compare.pipeline import Comparison, analyse
from stcorr.compare.reps import knee_flexion, rank_sentences, rep_distance
from stcorr.data.video import FRAME_SUFFIXES, VIDEO_SUFFIXES
from stcorr.errors import StcorrError
from stcorr.files import folder_writer, write_file, write_json

Result = tuple[str, "Comparison | str"]


def attempt_videos(folder: str | Path) -> list[Path]:
    """The attempts in ``folder``: its video files and its folders of frames, sorted by name."""
    folder = Path(folder)
    found = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and (
        (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES) or (p.is_dir() and _holds_frames(p)))]
    if not found:
        raise StcorrError(f"holds no video file ({', '.join(VIDEO_SUFFIXES)}) and no folder of frames: no attempt to compare", folder)
    return found


def is_attempts_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder of attempts (videos or folders of frames) rather than one video's frames."""
    path = Path(path)
    return path.is_dir() and not _holds_frames(path) and any(
        (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES) or (p.is_dir() and _holds_frames(p)) for p in path.iterdir())


def _holds_frames(folder: Path) -> bool:
    return any(p.suffix.lower() in FRAME_SUFFIXES for p in folder.iterdir())


def attempt_names(paths: Sequence[Path]) -> list[str]:
    """One folder name per attempt: the video's name without its suffix, made unique ("take", "take-2")."""
    names: list[str] = []
    for path in paths:
        stem = path.stem if path.is_file() else path.name
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}-{k}", k + 1
        names.append(name)
    return names


def compare_attempts(reference: str | Path, folder: str | Path, **options) -> list[Result]:
    """Every attempt of ``folder`` compared with ``reference`` (options as ``pipeline.analyse``):
    (name, its Comparison, or the one-line reason it could not be compared); refuses when none could."""
    paths = attempt_videos(folder)
    results: list[Result] = []
    for name, path in zip(attempt_names(paths), paths):
        try:
            results.append((name, analyse(reference, path, **options)))
        except StcorrError as error:
            if error.path is None or Path(error.path) == Path(reference):  # not this attempt's fault: nothing can be compared
                raise
            results.append((name, str(error)))
    if not any(isinstance(r, Comparison) for _, r in results):
        raise StcorrError(f"no attempt could be compared ({results[0][1]})", folder)
    return results


def attempt_rows(results: Sequence[Result]) -> list[dict]:
    """attempts.json's rows: per attempt its frames compared, the deepest knee flexion there, the
    distance to the reference's movement, their ranks, and what its comparison tells (module docstring)."""
    compared = [r for _, r in results if isinstance(r, Comparison)]
    world = any(c.record["angles_from"] == "world (3D)" for c in compared) and all(
        c.reference_joints.world is not None and c.attempt_joints.world is not None for c in compared)
    rows = []
    for name, result in results:
        if not isinstance(result, Comparison):
            rows.append({"attempt": name, "error": result})
            continue
        record = result.record
        first, last = record["compared_attempt_frames"]
        knees = knee_flexion(result.attempt_joints, world)[first:last + 1]
        rows.append({
            "attempt": name, "video": record["attempt"], "page": f"attempts/{name}/index.html",
            "compared_frames": [first, last],
            "knee_flexion_max_deg": round(float(np.nanmax(knees)), 1) if np.isfinite(knees).any() else None,
            "distance_to_reference": round(movement_distance(result, world), 4),
            "differences": [line for line in record["summary"] if line.startswith("at ")],
            "angles_from": record["angles_from"], "view_difference_deg": record["view_difference_deg"],
            "attempt_sides": record["attempt_sides"]})
    add_ranks(rows, "knee_flexion_max_deg", "depth_rank", deepest_first=True)
    add_ranks(rows, "distance_to_reference", "closeness_rank", deepest_first=False)
    return rows


def movement_distance(comparison: Comparison, world: bool) -> float:
    """DTW distance between the reference's movement and the attempt's compared frames (``reps.rep_distance``)."""
    record = comparison.record
    ref_reps = record["reps"]["reference"]
    ref = comparison.reference_joints
    if len(ref_reps) == 1:  # the reference's movement without the rest around it, as the pipeline aligns it
        ref = ref.frames_between(ref_reps[0]["start_t"], ref_reps[0]["end_t"])
    first, last = record["compared_attempt_frames"]
    return rep_distance(align.frame_descriptors(ref, world),
                        align.frame_descriptors(comparison.attempt_joints.frames_between(first, last), world))


def add_ranks(rows: list[dict], key: str, rank_key: str, deepest_first: bool) -> None:
    """Ranks (1, 2, ...) of the rows by ``key``, largest first when ``deepest_first``; rows without it get none."""
    ranked = [r for r in rows if r.get(key) is not None]
    order = sorted(ranked, key=lambda r: -r[key] if deepest_first else r[key])
    for rank, row in enumerate(order):
        row[rank_key] = rank + 1


def attempt_sentences(rows: list[dict]) -> list[str]:
    """The ranking in words ("attempt take3 is the one whose knee goes least deep ..."), then the
    attempts that could not be compared and why."""
    compared = [r for r in rows if "error" not in r]
    lines = [f"{len(compared)} of {len(rows)} attempts compared with the reference"]
    lines += rank_sentences(compared, lambda r: f"attempt {r['attempt']}")
    lines += [f"attempt {r['attempt']} not compared: {r['error']}" for r in rows if "error" in r]
    return lines


def attempts_record(reference: str | Path, folder: str | Path, results: Sequence[Result], options: dict) -> dict:
    """attempts.json: the reference, the rows, the summary; ``options``: the comparison's own settings."""
    rows = attempt_rows(results)
    compared = [r for _, r in results if isinstance(r, Comparison)]
    weak = [line for line in compared[0].record["summary"] if line.startswith("the model ")] if compared else []
    return {"command": "stcorr compare", "reference": str(reference), "attempts_folder": str(folder), **options,
            "ranked_on": "world (3D)" if rows and any(r.get("angles_from") == "world (3D)" for r in rows) else "image (2D)",
            "summary": attempt_sentences(rows) + weak, "attempts": rows}


def write_attempts(record: dict, results: Sequence[Result], out_dir: str | Path, video: bool = True,
                   traces: Sequence[str] = TRACE_JOINTS) -> Path:
    """Writes ``out_dir``/attempts.json, index.html (the ranking, a link to each attempt's page) and
    attempts/NAME/ (compare's files) for every attempt compared: whole, or not at all."""
    out_dir = check_out_folder(out_dir)
    with folder_writer(out_dir) as tmp:
        for name, result in results:
            if isinstance(result, Comparison):
                write_comparison_files(result, tmp / "attempts" / name, video, traces)
        write_json(tmp / "attempts.json", record)
        write_file(tmp / "index.html", attempts_page(record))
    return out_dir


#: The ranking table's columns: (header, row key, digits); a header click sorts the rows by it.
COLUMNS = (("attempt", "attempt", None), ("frames compared", "compared_frames", None),
           ("deepest knee flexion", "knee_flexion_max_deg", 1), ("depth rank", "depth_rank", 0),
           ("distance to the reference", "distance_to_reference", 3), ("closeness rank", "closeness_rank", 0),
           ("differences told", "differences", None))

#: Sorts the table by a clicked header: ascending, again descending; rows not compared stay last.
SORT_SCRIPT = """
const table = document.getElementById('ranking');
table.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => {
  const up = th.getAttribute('aria-sort') !== 'ascending';
  table.querySelectorAll('th').forEach(h => h.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
  const rows = Array.from(table.tBodies[0].rows);
  const key = r => r.cells[col] ? r.cells[col].dataset.v : undefined;
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === undefined || y === undefined) return (x === undefined) - (y === undefined);
    const order = isNaN(x) || isNaN(y) ? x.localeCompare(y) : Number(x) - Number(y);
    return up ? order : -order;
  });
  rows.forEach(r => table.tBodies[0].appendChild(r));
}));
document.body.dataset.ready = '1';
"""


def attempts_page(record: dict) -> str:
    """The summary page: the ranking in words and as a table (a header click sorts by it), each
    attempt linked to its own page."""
    def cell(row: dict, key: str, digits: int | None) -> str:
        value = row.get(key)
        if key == "attempt":
            return f'<td data-v="{escape(value)}"><a href="{escape(row["page"])}">{escape(value)}</a></td>'
        if key == "compared_frames":
            return f'<td class=num data-v="{value[0]}">{value[0]}-{value[1]}</td>'
        if key == "differences":
            told = "; ".join(value) or "none above the noise floor"
            return f'<td data-v="{len(value)}">{escape(told)}</td>'
        if value is None:
            return "<td class=num></td>"
        return f'<td class=num data-v="{value}">{value:.{digits}f}</td>'

    body = "".join(
        f'<tr><td data-v="{escape(r["attempt"])}">{escape(r["attempt"])}</td><td colspan=6>not compared: {escape(r["error"])}</td></tr>'
        if "error" in r else "<tr>" + "".join(cell(r, key, digits) for _, key, digits in COLUMNS) + "</tr>"
        for r in record["attempts"])
    header = "".join(f'<th title="sort by {escape(name)}">{escape(name)}</th>' for name, _, _ in COLUMNS)
    summary = "".join(f"<li>{escape(line)}</li>" for line in record["summary"])
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
            "<title>stcorr compare: attempts</title><style>body{font:14px/1.5 system-ui,sans-serif;margin:1.5em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:.2em .6em}.num{text-align:right}"
            "th{cursor:pointer}th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}</style></head>"
            f"<body><h1>stcorr compare: {len(record['attempts'])} attempts</h1><p>reference <code>{escape(record['reference'])}</code>"
            f" · attempts <code>{escape(record['attempts_folder'])}</code> · ranked on {escape(record['ranked_on'])} joints"
            " · click a header to sort by it</p>"
            f"<ul>{summary}</ul><table id=ranking><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
            f"<script>{SORT_SCRIPT}</script></body></html>")
