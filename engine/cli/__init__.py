"""The `denialflow` command (`app`: the Typer app and `main`), its option parsing (`common`)
and its command groups. The top of the import graph with `engine.web`: it may import every
other package; nothing imports it."""
