"""The ``custlens`` command line: a thin shell over :class:`custlens.Workspace`.

- :mod:`custlens.cli.main` — the commands (Typer): options in, a Workspace call, out;
- :mod:`custlens.cli.render` — what they print: Rich tables, the profile card, CSV/JSON;
- :mod:`custlens.cli.query_options` — ``custlens query``'s ``--filter`` and ``--time``.
"""

from custlens.cli.main import app, main

__all__ = ["app", "main"]
