"""`python -m engine.cli`: the same as the `denialflow` command."""

from engine.cli.app import main

main()
