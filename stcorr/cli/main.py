"""``stcorr``: the command line (SPEC §6). Each verb lives in its own module; this file wires them."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from stcorr.cli import compare_commands, data_commands, demo, model_commands, table
from stcorr.cli import retrieve_commands, track_commands
from stcorr.cli.common import console
from stcorr.errors import StcorrError

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


def main() -> None:
    """Entry point: bad input ends with one line on stderr and exit status 2, never a traceback."""
    try:
        app()  # usage errors: typer prints them and exits 2
    except StcorrError as exc:
        console.print("[red]error:[/] " + escape(str(exc)), soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)

if __name__ == "__main__":
    main()
