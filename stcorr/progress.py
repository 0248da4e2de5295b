"""Progress bars on stderr (rich), or nothing when disabled (per bar, or for a whole block of work); a bar
opened while another is on screen stays silent (the outer one shows the work)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from stcorr.console import console

_shown = [True]
_live = [False]  # a bar is on screen: rich shows one live display at a time, so a bar inside it stays silent


class _Bar:
    def __init__(self, progress=None, task=None):
        self._progress, self._task = progress, task

    def advance(self, steps: int = 1, info: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=steps, info=info)


@contextmanager
def bars_shown(shown: bool) -> Iterator[None]:
    """Within the block, progress bars are shown only if ``shown`` (and their own ``enabled``)."""
    before = _shown[0]
    _shown[0] = before and shown
    try:
        yield
    finally:
        _shown[0] = before


@contextmanager
def progress_bar(label: str, total: int, enabled: bool = True, completed: int = 0) -> Iterator[_Bar]:
    if not (enabled and _shown[0]) or _live[0]:
        yield _Bar()
        return
    # rich.progress costs ~0.5 s at start-up: loaded when a bar is shown
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
    _live[0] = True
    try:
        with Progress(*columns, console=console) as progress:
            yield _Bar(progress, progress.add_task(label, total=total, completed=completed, info=""))
    finally:
        _live[0] = False
