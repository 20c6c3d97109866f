"""The mmsearch command-line interface (typer)."""
