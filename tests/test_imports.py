"""Every module of custlens imports on its own: in one fresh interpreter, each is
imported with no custlens module loaded before it, so an import cycle that only
works in one order fails here. (The layer contracts are checked by lint-imports.)"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import custlens

MODULES = sorted(m.name for m in pkgutil.walk_packages(custlens.__path__, prefix="custlens."))

SCRIPT = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "custlens" or m.startswith("custlens.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
"""


def test_every_module_imports_first() -> None:
    assert len(MODULES) > 60
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *MODULES], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
