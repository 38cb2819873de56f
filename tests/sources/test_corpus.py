"""The corpus of bad inputs (``corpus/``): each file is refused with the message that
``corpus/expected.yml`` gives for it, and the warehouse is left as it was.

A file's name says which contract table it is loaded as (``customers--short-row.csv``
is a ``customers`` file). The messages were written down by reading each file: they
name the file and, where there is one, the row (and its line), column and value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import yaml

from custlens import ContractError
from custlens.workspace import Workspace

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, str] = yaml.safe_load((CORPUS / "expected.yml").read_text(encoding="utf-8"))
GOOD = pl.DataFrame({"customer_id": ["G1", "G2"], "name": ["Good One", "Good Two"]})


def test_the_corpus_is_complete() -> None:
    files = sorted(p.name for p in CORPUS.iterdir() if p.name != "expected.yml")
    assert files == sorted(EXPECTED)
    assert len(files) >= 40


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with Workspace.init(tmp_path_factory.mktemp("corpus") / "ws") as ws:
        ws.load({"customers": GOOD})
        yield ws


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_bad_file_is_refused_with_its_message(workspace: Workspace, name: str) -> None:
    before = workspace.tables()
    with pytest.raises(ContractError) as refused:
        workspace.load({name.split("--")[0]: CORPUS / name})
    message = str(refused.value).replace(f"{CORPUS}/", "")
    expected = EXPECTED[name]
    if expected.endswith("…"):
        assert message.startswith(expected[:-1]), message
    else:
        assert message == expected
    # Nothing was written: the same tables, and the good customers untouched.
    assert workspace.tables() == before
    assert workspace.table("customers").select("customer_id", "name").equals(GOOD)
