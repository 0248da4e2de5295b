"""The console every message goes to (stderr, rich): the library's progress bars and warnings, and the CLI."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True, highlight=False)
