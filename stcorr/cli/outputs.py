"""The output policy every verb follows before it does any work (docs/outputs.md).

    plan = check_outputs("eval", inputs={"--data": data}, files={"--out": out}, overwrite=overwrite)
    ... the work ...
    plan.claim()          # folders that are added to (train, table, report, demo): create and mark them

1. An output may not be, contain or sit inside an input of the same command.
2. Two outputs of one command may not be the same path, nor one inside the other.
3. An existing file is replaced only when stcorr wrote it (its own header: ``stcorr_wrote``) or with
   ``--overwrite``.
4. A folder output is created, or reused only when it holds stcorr's own outputs of the same verb:
   a hidden ``.stcorr`` manifest names the verb (``mark_folder``), and every entry is one the verb
   writes. Nothing stcorr did not write is ever deleted, ``--overwrite`` or not.
5. Where the OS lets us tell, writing is checked before the work: a folder for a file name or a
   file for a folder name, a file where a folder must be, read-only file systems, names too long,
   too little free space.

``run_lock`` gives a training run folder one owner: an OS file lock, gone with the process.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from stcorr.errors import StcorrError
from stcorr.files import MARK, MANIFEST, mark_folder, read_folder_mark

LOCK = ".stcorr.lock"
MIN_FREE_BYTES = 1 << 20  # free space asked for before any write (a JSON file, a picture)
TEMP_NAME_EXTRA = 24  # file_writer's temporary sibling: ".STEM.<8 random>.tmp.SUFFIX"
BOOKKEEPING = (MANIFEST, LOCK)


@dataclass(frozen=True)
class FolderKind:
    """What a verb writes into its output folder: the top-level names (glob patterns) it owns,
    whether it replaces the folder whole, and how its outputs are recognised besides the
    manifest (``recognise``: written before the manifest existed, or by a verb that replaces its
    folder whole and marks its files instead)."""
    owner: str
    own: tuple[str, ...]
    whole: bool
    recognise: Callable[[Path], bool] | None = None
    foreign_inside: Callable[[Path], list[str]] | None = None  # files below the top level it did not write


def _has_checkpoint(folder: Path) -> bool:
    return (folder / "checkpoint" / "checkpoint.json").is_file()


def _holds_stcorr_masks(folder: Path) -> bool:
    return all(p.suffix == ".png" and stcorr_wrote(p) for p in folder.iterdir())


def _holds_a_comparison(folder: Path) -> bool:
    return stcorr_wrote(folder / "compare.json") or stcorr_wrote(folder / "attempts.json")


def _is_synth(folder: Path) -> bool:
    from stcorr.data.synthetic.build import is_synth_output  # imported when needed: it adds ~0.4 s to every command's start

    return is_synth_output(folder)


COMPARISON_FILES = ("compare.json", "side_by_side.mp4", "overlay.mp4", "index.html")


def _not_a_comparisons_file(folder: Path) -> list[str]:
    """Files of an earlier comparison folder that compare did not write: its JSON, videos and pages must carry
    stcorr's header, mark or title, and attempts/ hold nothing but attempts/NAME/ with one comparison's files."""
    foreign = []
    for entry in sorted(folder.rglob("*")):
        relative = entry.relative_to(folder)
        if entry.is_dir() and not entry.is_symlink():
            continue
        top_level = len(relative.parts) == 1
        if top_level and relative.name in BOOKKEEPING:
            continue
        in_attempts = len(relative.parts) == 3 and relative.parts[0] == "attempts" and relative.name in COMPARISON_FILES
        if entry.is_symlink() or not (top_level or in_attempts) or \
                (entry.suffix in (".json", ".mp4", ".html") and not stcorr_wrote(entry)):
            foreign.append(relative.as_posix())
    return foreign


RUN_ENTRIES = ("checkpoint", ".checkpoint.old", ".checkpoint.tmp", "config.yaml", "train_log.csv", "val_log.csv",
               "tensorboard", ".config.*.tmp.yaml", ".train_log.*.tmp.csv", ".val_log.*.tmp.csv")
FOLDER_KINDS = {
    "train": FolderKind("train", RUN_ENTRIES, whole=False, recognise=_has_checkpoint),
    "demo": FolderKind("demo", RUN_ENTRIES + ("data", ".data.*", "results", "figure.png", ".figure.*", "report"),
                       whole=False, recognise=_has_checkpoint),
    "table": FolderKind("table", ("*.json", "table3.md", ".*.tmp.json", ".table3.*.tmp.md"), whole=False),
    "report": FolderKind("report", ("index.html", ".index.*.tmp.html"), whole=False),
    "compare": FolderKind("compare", (*COMPARISON_FILES, "attempts.json", "attempts"),
                          whole=True,
                          recognise=_holds_a_comparison, foreign_inside=_not_a_comparisons_file),
    "propagate --out-masks": FolderKind("propagate --out-masks", ("[0-9]*.png",), whole=True,
                                        recognise=_holds_stcorr_masks),
    "synth": FolderKind("synth", ("frames", "labels", "*.json", "penn_action_labels", "joints3d"), whole=True, recognise=_is_synth),
}


@dataclass
class OutputPlan:
    """The checked outputs of one command; ``claim`` creates and marks the folders it adds to."""
    files: dict[str, Path] = field(default_factory=dict)
    folders: dict[str, tuple[Path, FolderKind]] = field(default_factory=dict)

    def claim(self) -> None:
        for path, kind in self.folders.values():
            if not kind.whole:  # a folder replaced whole is recognised by its files (``FolderKind.recognise``)
                path.mkdir(parents=True, exist_ok=True)
                mark_folder(path, kind.owner)


Paths = Mapping[str, "Path | Iterable[Path] | None"]


def check_outputs(verb: str, inputs: Paths, files: Mapping[str, Path | None] | None = None,
                  folders: Mapping[str, Path | None] | None = None, overwrite: bool = False,
                  min_free: int = MIN_FREE_BYTES) -> OutputPlan:
    """Checks every rule of the module docstring for one command; raises a one-line StcorrError.

    ``inputs``: flag -> path(s) the command reads; ``files``: flag -> file it writes; ``folders``:
    flag -> folder it writes (its kind is ``FOLDER_KINDS[verb + " " + flag]`` or ``[verb]``)."""
    plan = OutputPlan()
    outputs: list[tuple[str, Path]] = []
    for flag, path in (files or {}).items():
        if path is not None:
            plan.files[flag] = Path(path)
            outputs.append((flag, Path(path)))
    for flag, path in (folders or {}).items():
        if path is not None:
            kind = FOLDER_KINDS.get(f"{verb} {flag}") or FOLDER_KINDS[verb]
            plan.folders[flag] = (Path(path), kind)
            outputs.append((flag, Path(path)))
    for flag, path in plan.files.items():
        if path.is_dir():
            raise StcorrError(f"{flag} is a folder, expected a file name", path)
    for flag, (path, _) in plan.folders.items():
        if path.exists() and not path.is_dir():
            raise StcorrError(f"{flag} is a file, expected a folder", path)
    _check_overlaps(outputs, [(flag, Path(p)) for flag, value in inputs.items() for p in _paths(value)])
    for flag, path in plan.files.items():
        _check_file(flag, path, overwrite, min_free)
    for flag, (path, kind) in plan.folders.items():
        _check_folder(flag, path, kind, overwrite, min_free)
    return plan


def _paths(value) -> list:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [value]
    return [v for v in value if v is not None]


def _real(path: Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(path))).resolve()


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _check_overlaps(outputs: list[tuple[str, Path]], inputs: list[tuple[str, Path]]) -> None:
    real_out = [(flag, _real(p), p) for flag, p in outputs]
    for flag, out, shown in real_out:
        for in_flag, given in inputs:
            source = _real(given)
            if out == source:
                raise StcorrError(f"{flag} is the same path as {in_flag}, an input of this command: write elsewhere", shown)
            if _within(out, source):
                raise StcorrError(f"{flag} lies inside {in_flag} ({given}), an input of this command: write elsewhere", shown)
            if _within(source, out):
                raise StcorrError(f"{flag} holds {in_flag} ({given}), an input of this command: write elsewhere", shown)
    for i, (flag, out, shown) in enumerate(real_out):
        for other_flag, other, _ in real_out[i + 1:]:
            if out == other:
                raise StcorrError(f"{flag} and {other_flag} are the same path: give each its own", shown)
            if _within(out, other) or _within(other, out):
                raise StcorrError(f"{flag} and {other_flag} lie one inside the other: give each its own place", shown)


def _check_file(flag: str, path: Path, overwrite: bool, min_free: int) -> None:
    _check_writable(flag, path, TEMP_NAME_EXTRA, min_free)
    if path.exists() and not overwrite and not stcorr_wrote(path):
        raise StcorrError(f"{flag}: the file exists and stcorr did not write it; it stays (give --overwrite to replace it)", path)


def _check_folder(flag: str, path: Path, kind: FolderKind, overwrite: bool, min_free: int) -> None:
    _check_writable(flag, path, len(".tmp.") + 1, min_free)
    if not path.is_dir():
        return
    entries = sorted(p.name for p in path.iterdir())
    foreign = [name for name in entries if not _owned(name, kind)]
    bookkeeping_only = all(name in BOOKKEEPING for name in entries)
    mine = read_folder_mark(path) == kind.owner or (kind.recognise is not None and kind.recognise(path))
    if mine and not foreign and kind.foreign_inside is not None:
        foreign = kind.foreign_inside(path)
    if bookkeeping_only or (mine and not foreign):
        return
    if overwrite and not kind.whole:  # added to: files of the same names are replaced, nothing else is touched
        return
    shown = [name for name in (foreign or entries) if name not in BOOKKEEPING][:3]
    what = f"files stcorr did not write ({', '.join(shown)}, ...)" if foreign else \
        f"files ({', '.join(shown)}, ...) but is not an earlier `stcorr {kind.owner}` output (no {MANIFEST} naming it)"
    hint = "" if kind.whole else " (or --overwrite to write into it anyway)"
    raise StcorrError(f"{flag}: the folder holds {what}; give a new or empty folder{hint}", path)


def _owned(name: str, kind: FolderKind) -> bool:
    return name in BOOKKEEPING or any(fnmatch.fnmatchcase(name, pattern) for pattern in kind.own)


def _check_writable(flag: str, path: Path, extra: int, min_free: int) -> None:
    """The file system will take ``path``: every existing ancestor a folder, names short enough
    (with room for the temporary sibling's ``extra`` characters), writable, not read-only, free space."""
    absolute = Path(os.path.abspath(os.path.expanduser(path)))
    existing = absolute if absolute.is_dir() else absolute.parent  # a folder output is written into
    while not existing.exists():
        existing = existing.parent
    for ancestor in [*reversed(absolute.parents)]:
        if ancestor.exists() and not ancestor.is_dir():
            raise StcorrError(f"{flag}: {ancestor} is a file, so nothing can be written inside it", path)
    name_max = _pathconf(existing, "PC_NAME_MAX", 255)
    long = [part for part in absolute.parts[1:-1] if len(os.fsencode(part)) > name_max]
    if long or len(os.fsencode(absolute.name)) + extra > name_max:
        raise StcorrError(f"{flag}: name too long (at most {name_max - extra} bytes here)", path)
    if len(os.fsencode(str(absolute))) + extra >= _pathconf(existing, "PC_PATH_MAX", 4096):
        raise StcorrError(f"{flag}: path too long", path)
    stats = os.statvfs(existing)
    if stats.f_flag & os.ST_RDONLY or not os.access(existing, os.W_OK | os.X_OK):
        raise StcorrError(f"{flag}: cannot write there ({os.strerror(errno.EROFS if stats.f_flag & os.ST_RDONLY else errno.EACCES)})", existing)
    free = shutil.disk_usage(existing).free
    if free < min_free:
        raise StcorrError(f"{flag}: only {free / 2**20:.1f} MiB free there, {min_free / 2**20:.1f} MiB needed", existing)


def _pathconf(folder: Path, name: str, fallback: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return fallback


# ----------------------------------------------------------------------------- stcorr's own files


def stcorr_wrote(path: Path) -> bool:
    """Whether stcorr wrote the file at ``path``, by its own header: the JSON records of docs/formats.md
    (RESULTS, RETRIEVAL, tracking and classify results carry ``"command": "stcorr ..."``; PRED,
    TRACKS, PREDS and pairs.json their fixed keys), pictures and videos the ``MARK`` stcorr embeds, pages
    their title."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return _stcorr_json(path)
        if suffix in (".png", ".jpg", ".jpeg"):
            # PIL and PyAV load only to look for stcorr's mark in an existing picture or video
            from PIL import Image

            with Image.open(path) as image:
                return image.info.get("Software") == MARK or image.info.get("comment") in (MARK, MARK.encode())
        if suffix == ".html":  # stcorr's pages (compare, report) open with a <title> of "stcorr ..."
            with open(path, "rb") as page:
                return b"<title>stcorr" in page.read(8192)
        if suffix == ".mp4":
            import av

            with av.open(str(path)) as container:
                return container.metadata.get("comment") == MARK
    except Exception:  # noqa: BLE001 - whatever cannot be read is not recognised as stcorr's
        return False
    return False


PRED_KEYS = {"source", "target", "checkpoint", "keypoints"}
COMPARE_KEYS = {"key_moments", "sizes", "fps", "summary"}
PAIR_KEYS = {"source", "target", "split", "action", "correspondences"}


def _stcorr_json(path: Path) -> bool:
    if path.stat().st_size > 1 << 30:
        return False
    data = json.loads(path.read_bytes())
    if isinstance(data, dict):
        command = data.get("command")
        return (isinstance(command, str) and command.startswith("stcorr")) or PRED_KEYS <= set(data) \
            or set(data) == {"video", "checkpoint", "tracks"} or COMPARE_KEYS <= set(data)
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return all(PRED_KEYS <= set(r) for r in data) or all(set(r) == PAIR_KEYS for r in data)
    return False


# ----------------------------------------------------------------------------- one owner per run folder


@contextmanager
def run_lock(folder: Path, what: str = "stcorr train") -> Iterator[Path]:
    """Holds an OS lock on ``folder/.stcorr.lock`` for the block: a second holder is refused at once
    with one line. The kernel drops the lock when the process ends, even by kill -9, so a stale
    lock file never blocks the next run."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise StcorrError(f"the run folder is in use by another `{what}`"
                              f"{f' (process {holder})' if holder.isdigit() else ''}: wait for it, or give another --out",
                              folder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield folder
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def training_folder(folder: Path, resume: bool, locked: bool = True) -> Iterator[Path]:
    """A train run folder for the block: locked (``run_lock``; ``locked=False`` on the other ranks of
    a data-parallel run) and marked as train's. When the block fails before a fresh run saved a
    checkpoint, what the run wrote is removed (no config.yaml without a checkpoint), and the folder
    too when this run made it."""
    folder = Path(folder)
    existed = folder.exists()
    if not locked:
        yield folder
        return
    try:
        with run_lock(folder):
            mark_folder(folder, "train")
            try:
                yield folder
            except BaseException:
                if not resume and not _has_checkpoint(folder):
                    _remove_owned(folder, FOLDER_KINDS["train"])
                raise
    except BaseException:
        if not existed and {p.name for p in folder.iterdir()} <= set(BOOKKEEPING):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _remove_owned(folder: Path, kind: FolderKind) -> None:
    """Removes the entries of ``folder`` that ``kind``'s verb writes (never any other file)."""
    for entry in folder.iterdir():
        if entry.name not in BOOKKEEPING and _owned(entry.name, kind):
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
