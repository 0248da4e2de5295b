"""The one way stcorr writes a file or a folder: whole, or not at all.

    write_file(path, text_or_bytes)       temp file in the same folder, fsync, rename over path
    write_json(path, obj)                 the same, for JSON
    with file_writer(path) as tmp: ...    for writers that need a path (PyAV, PIL, matplotlib)
    with folder_writer(path) as tmp: ...  a folder written whole under another name, then swapped in
    write_files({path: data, ...})        several files that belong together: all of them, or none
    save_image(image, path)               a PIL picture (.png, .jpg) carrying stcorr's MARK
    mark_folder(path, owner)              the hidden manifest that says which verb wrote a folder
    read_json(path)                       strict JSON (UTF-8, no NaN), or a one-line StcorrError naming the file

A reader never sees a half-written file; a crash leaves the old file (or nothing) in place,
plus at most a hidden temporary sibling. ``folder_writer`` keeps the previous folder as
``.NAME.old`` until the new one is in place, and ``recover_folder`` puts it back after a crash
between the two renames.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

from stcorr.errors import StcorrError

MARK = "stcorr"  # embedded in the pictures and videos stcorr writes (PNG Software, JPEG comment, mp4 comment)
MANIFEST = ".stcorr"  # in a folder stcorr made: {"written_by": "stcorr", "verb": ...}


def write_file(path: str | Path, data: str | bytes) -> Path:
    """Writes ``data`` (text as UTF-8) to ``path`` atomically."""
    with file_writer(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    return Path(path)


def write_json(path: str | Path, obj: Any, indent: int | None = 1) -> Path:
    """Writes ``obj`` as JSON (NaN refused: stcorr's JSON files are strict) atomically."""
    return write_file(path, json_text(obj, indent))


def json_text(obj: Any, indent: int | None = 1) -> str:
    """``obj`` as stcorr writes JSON: strict (NaN refused), one trailing newline."""
    return json.dumps(obj, indent=indent, allow_nan=False) + "\n"


def write_files(contents: dict[str | Path, str | bytes]) -> list[Path]:
    """Writes every file to a temporary sibling first and renames them into place only when all
    were written: a full disk or any other failure leaves none of them (a set never half-written)."""
    with ExitStack() as stack:
        temps = [(stack.enter_context(file_writer(path)), data) for path, data in contents.items()]
        for tmp, data in temps:
            _write_bytes(tmp, data.encode() if isinstance(data, str) else data)
    return [Path(p) for p in contents]


def save_image(image, path: str | Path) -> Path:
    """Writes a PIL image as .png or .jpg atomically, with stcorr's MARK in its metadata."""
    path = Path(path)
    with file_writer(path) as tmp:
        if path.suffix.lower() == ".png":
            image.save(tmp, format="PNG", pnginfo=png_mark())
        else:
            image.save(tmp, format="JPEG", quality=90, comment=MARK.encode())
    return path


def png_mark():
    """PNG metadata that says stcorr wrote the picture (give it to PIL's ``save(..., pnginfo=)``)."""
    from PIL import PngImagePlugin  # PIL only where a picture is written

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", MARK)
    return info


def mark_folder(path: str | Path, owner: str) -> Path:
    """Writes the folder's manifest: ``owner`` (a verb) wrote it and may write into it again."""
    return write_json(Path(path) / MANIFEST, {"written_by": MARK, "verb": owner})


def read_folder_mark(path: str | Path) -> str | None:
    """The verb named by the folder's manifest, or None when it has none (or an unreadable one)."""
    try:
        data = json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data.get("verb") if isinstance(data, dict) and data.get("written_by") == MARK else None


def read_json(path: str | Path) -> Any:
    """The JSON value in ``path``; StcorrError naming the file when it cannot be read or parsed."""
    def refuse(constant: str):
        raise ValueError(f"{constant} is not a JSON number")

    try:
        return json.loads(Path(path).read_bytes().decode("utf-8"), parse_constant=refuse)
    except FileNotFoundError:
        raise StcorrError("file not found", path) from None
    except IsADirectoryError:
        raise StcorrError("is a folder, expected a JSON file", path) from None
    except OSError as exc:
        raise StcorrError(f"cannot read ({exc.strerror})", path) from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise StcorrError(f"not valid JSON ({' '.join(str(exc).split()) or type(exc).__name__})", path) from None


@contextmanager
def file_writer(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` (same suffix, so writers pick the right format);
    when the block ends without an error the file is fsynced and renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual permissions
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def folder_writer(path: str | Path) -> Iterator[Path]:
    """Yields an empty temporary folder beside ``path``; when the block ends without an error its
    files are fsynced and it replaces ``path`` (the old folder, if any, is removed last)."""
    path = Path(path)
    recover_folder(path)
    tmp = path.with_name(f".{path.name}.tmp")
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                _fsync(f)
        _fsync_folder(tmp)
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            path.rename(old)
        tmp.rename(path)
        _fsync_folder(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def recover_folder(path: str | Path) -> Path:
    """After a crash between ``folder_writer``'s two renames only ``.NAME.old`` is left: move it back."""
    path = Path(path)
    old = path.with_name(f".{path.name}.old")
    if not path.exists() and old.is_dir():
        old.rename(path)
    return path


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
