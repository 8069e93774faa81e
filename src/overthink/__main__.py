"""``python -m overthink`` runs the CLI."""

from overthink.cli import main

main()
