"""The version of custlens (one place: the package, the run log and the API read it)."""

__version__ = "0.1.0"
