"""The `aiop` command line: the public face over the operator, the sandbox and the tools."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="ai-operator: chat threads to repo commits.")


def main() -> None:
    app()
