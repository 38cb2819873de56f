"""Source tables: the data contract (contract.py) and the loader that enforces it —
read.py, convert.py, validate.py and problems.py, driven by load.py."""

from __future__ import annotations
