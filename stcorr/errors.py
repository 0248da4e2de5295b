"""The one exception type for bad input: the command line prints it as one line and exits 2."""

from __future__ import annotations

from pathlib import Path


class StcorrError(Exception):
    """A problem with the user's input (a file, a flag, a data set), told in one line."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
