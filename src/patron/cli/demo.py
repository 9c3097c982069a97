import typer


def demo() -> None:
    """Create a demo shop on a SQLite file and serve it on 127.0.0.1:8000."""
    raise typer.Exit(1)
