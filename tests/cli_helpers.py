"""Running ``stcorr`` in-process (fast: no interpreter start, no re-import of torch) as a user would."""

from __future__ import annotations

import contextlib
import io
import sys
import traceback
from dataclasses import dataclass
from unittest import mock

from stcorr.cli.main import main


@dataclass
class Run:
    returncode: int | None  # None: an exception escaped main (a traceback: always a bug)
    stdout: str
    stderr: str

    @property
    def one_line_error(self) -> bool:
        """Exit status 2 and exactly one line on stderr, which says what is wrong."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return self.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ")


def run_stcorr(*args) -> Run:
    """``stcorr ARGS`` through the real entry point, with stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    code: int | None = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), mock.patch.object(sys, "argv", ["stcorr", *map(str, args)]):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:  # noqa: BLE001 - a traceback is what the callers look for
            code = None
            err.write(traceback.format_exc())
    return Run(code, out.getvalue(), err.getvalue())
