"""``python -m motiongpt`` runs the command line."""

from motiongpt.cli import app

app()
