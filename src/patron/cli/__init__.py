"""The `patron` command: one Typer sub-app per file."""
