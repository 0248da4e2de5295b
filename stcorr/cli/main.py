"""``stcorr``: the command line (docs/cli.md). Each verb lives in its own module; this file wires them."""

from __future__ import annotations

import errno
import os
import sys
from typing import Sequence

import typer
import typer.core
from rich.markup import escape

from stcorr.cli import compare_commands, data_commands, demo, model_commands, table, track_commands
from stcorr.cli import retrieve_commands
from stcorr.cli.common import console
from stcorr.errors import StcorrError

def _flags_show_no_value_type() -> None:
    """Help lists on/off flags (--resume, --progress/--no-progress, --help) without a value type:
    typer would print ``<bool>`` as though they took a value. Typer has no setting for it."""
    option = getattr(typer.core, "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None or getattr(shown, "stcorr", False):
        return

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) else shown(self, ctx)

    display_type_rich.stcorr = True
    option.display_type_rich = display_type_rich


_flags_show_no_value_type()
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Space-time semantic correspondence across videos.",
)
data_commands.register(app)
model_commands.register(app)
demo.register(app)
table.register(app)
retrieve_commands.register(app)
compare_commands.register(app)
track_commands.register(app)

USAGE_ERROR = 2
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG, errno.EISDIR,
               errno.ENOTDIR, errno.EFBIG}  # writing failed midway: the writers left no half-written file


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point (``argv`` defaults to ``sys.argv[1:]``): bad input, whether a usage error of the
    command line (bad number, missing option, unknown flag or verb) or a bad file, ends with one
    line on stderr and exit status 2, never a traceback."""
    try:
        status = app(args=None if argv is None else list(argv), prog_name="stcorr", standalone_mode=False)
    except StcorrError as exc:
        fail(str(exc))
    except OSError as exc:
        if exc.errno not in DISK_ERRORS:
            raise
        fail(f"cannot write {exc.filename or 'a file'} ({exc.strerror or os.strerror(exc.errno)})")
    except typer.TyperException as exc:  # the command-line library's usage errors (click's ClickException)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `stcorr`: typer has printed the help
            sys.exit(USAGE_ERROR)
        fail(usage_message(exc))
    except typer.Abort:
        console.print("aborted")
        sys.exit(1)
    if isinstance(status, int) and status:  # typer.Exit(n), e.g. 130 after Ctrl-C
        if status == 130:
            console.print("interrupted")
        sys.exit(status)


def usage_message(exc: typer.TyperException) -> str:
    """``stcorr VERB: what is wrong`` on one line."""
    ctx = getattr(exc, "ctx", None)
    where = f"{ctx.command_path}: " if ctx is not None and getattr(ctx, "command_path", None) else ""
    return where + exc.format_message()


def fail(message: str) -> None:
    """Prints ``error: message`` as one line on stderr and exits with status 2."""
    console.print("[red]error:[/] " + escape(" ".join(message.split())), soft_wrap=True)
    sys.exit(USAGE_ERROR)


if __name__ == "__main__":
    main()
