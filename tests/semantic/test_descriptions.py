"""Every member of the shipped model says what it is, in the user's words: /v1/meta, the
catalog and /docs show these lines to people who have no DESIGN.md and no seeds."""

from __future__ import annotations

import re

from custlens.semantic.loader import load_model

INTERNAL_REFERENCE = re.compile(r"DESIGN|seed \d|§")


def _described() -> dict[str, str | None]:
    model = load_model()
    out: dict[str, str | None] = {}
    for cube in model.cubes.values():
        out[f"cube {cube.name}"] = cube.description
        for member in [*cube.measures, *cube.dimensions]:
            out[f"{cube.name}.{member.name}"] = member.description
    for metric in model.metrics.values():
        out[f"metric {metric.name}"] = metric.description
    return out


def test_every_shipped_cube_member_and_metric_has_a_description() -> None:
    described = _described()
    assert len(described) > 250  # 19 cubes, ~210 members, the metrics
    missing = sorted(name for name, text in described.items() if not (text or "").strip())
    assert missing == []


def test_descriptions_are_one_sentence_line_without_internal_references() -> None:
    for name, text in _described().items():
        line = " ".join((text or "").split())
        assert not INTERNAL_REFERENCE.search(line), f"{name}: {line}"
        assert line.endswith((".", ")")), f"{name}: {line}"
        assert len(line) <= 240, f"{name}: {len(line)} characters"
