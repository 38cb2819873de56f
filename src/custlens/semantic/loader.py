"""Reading the semantic model: the shipped YAML and a workspace's ``semantic/*.yml``,
validated as a whole — every reference resolved, rollups that can answer, no metric
cycles — with errors that name the file and the place in it."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from custlens.config import _line_of, describe_validation_error, parse_yaml
from custlens.errors import ConfigError
from custlens.semantic.model import (
    Cube,
    ModelFile,
    Rollup,
    SemanticModel,
    join_path,
    metric_references,
)


def default_files() -> list[tuple[str, str]]:
    """(name, text) of the shipped default model files, in name order."""
    folder = resources.files("custlens.semantic") / "defaults"
    return sorted(
        (f"custlens/semantic/defaults/{p.name}", p.read_text(encoding="utf-8"))
        for p in folder.iterdir()
        if p.name.endswith(".yml")
    )


def load_model(folder: Path | None = None, *, defaults: bool = True) -> SemanticModel:
    """The default model extended and overridden by ``folder/*.yml`` (if given).

    Raises:
        ConfigError: a file is not YAML, has an unknown key or a bad value, or
            references a cube, measure, dimension or metric that does not exist.
    """
    files = default_files() if defaults else []
    if folder is not None and folder.is_dir():
        files += [
            (str(p), p.read_text(encoding="utf-8"))
            for p in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
        ]
    return build_model(files)


def build_model(files: Iterable[tuple[str, str]]) -> SemanticModel:
    """Validate and merge model files given as (name, YAML text)."""
    model = SemanticModel()
    for name, text in files:
        try:
            node, data = parse_yaml(text)
            data = data or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{name}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{name}: expected `cubes:` and/or `metrics:` at the top level")
        try:
            parsed = ModelFile.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, Path(name), node)) from None
        for i, cube in enumerate(parsed.cubes):
            model.cubes[cube.name] = cube
            model.origin[f"cube:{cube.name}"] = _where(name, node, ["cubes", str(i)])
        for i, metric in enumerate(parsed.metrics):
            model.metrics[metric.name] = metric
            model.origin[f"metric:{metric.name}"] = _where(name, node, ["metrics", str(i)])
    _check_references(model)
    return model


def _where(name: str, node: Any, loc: list[str]) -> str:
    line = _line_of(node, loc)
    return f"{name}:{line}" if line else name


def _check_references(model: SemanticModel) -> None:
    """Every name a cube or metric uses must exist; errors say where it was used."""
    from custlens.semantic.arith import names_in

    problems: list[str] = []
    for cube in model.cubes.values():
        where = model.origin[f"cube:{cube.name}"]
        if bool(cube.table) == bool(cube.sql):
            problems.append(f"{where}: cube {cube.name!r} needs exactly one of `table` or `sql`")
        dims = {d.name: d for d in cube.dimensions}
        measures = {m.name for m in cube.measures}
        if len(dims) != len(cube.dimensions) or len(measures) != len(cube.measures):
            problems.append(f"{where}: cube {cube.name!r} repeats a measure or dimension name")
        for m in cube.measures:
            if m.type == "number":
                unknown = [n for n in names_in(m.sql or "") if n not in measures]
                if not m.sql or unknown:
                    problems.append(
                        f"{where}: measure {cube.name}.{m.name}: a number measure needs `sql` "
                        f"over this cube's measures; unknown {unknown}"
                    )
            elif m.type != "count" and not m.sql:
                problems.append(f"{where}: measure {cube.name}.{m.name} ({m.type}) needs `sql`")
            if m.semi_additive and getattr(dims.get(m.semi_additive), "type", None) != "time":
                problems.append(
                    f"{where}: measure {cube.name}.{m.name}: semi_additive names "
                    f"{m.semi_additive!r}, which is not a time dimension of {cube.name!r}"
                )
        for join in cube.joins:
            other = model.cubes.get(join.cube)
            if other is None:
                problems.append(f"{where}: cube {cube.name!r} joins unknown cube {join.cube!r}")
                continue
            for mine, theirs in join.keys:
                if mine not in dims:
                    problems.append(
                        f"{where}: join {cube.name} → {join.cube}: {mine!r} is not a "
                        f"dimension of {cube.name!r}"
                    )
                if other.dimension(theirs) is None:
                    problems.append(
                        f"{where}: join {cube.name} → {join.cube}: {theirs!r} is not a "
                        f"dimension of {join.cube!r}"
                    )
    for metric in model.metrics.values():
        where = model.origin[f"metric:{metric.name}"]
        for ref in metric_references(metric):
            if "." in ref:
                cube_name, _, member = ref.partition(".")
                target = model.cubes.get(cube_name)
                if target is None or target.measure(member) is None:
                    problems.append(f"{where}: metric {metric.name!r}: unknown measure {ref!r}")
            elif ref not in model.metrics:
                problems.append(f"{where}: metric {metric.name!r}: unknown metric {ref!r}")
        if not metric_references(metric):
            need = {
                "simple": "measure",
                "cumulative": "measure",
                "ratio": "numerator and denominator",
                "derived": "expression",
            }[metric.type]
            problems.append(f"{where}: metric {metric.name!r} ({metric.type}) needs `{need}`")
    problems += _metric_cycles(model)
    for cube in model.cubes.values():
        where = model.origin[f"cube:{cube.name}"]
        problems += [
            f"{where}: {p}" for r in cube.rollups for p in _rollup_problems(model, cube, r)
        ]
        if len({r.name for r in cube.rollups}) != len(cube.rollups):
            problems.append(f"{where}: cube {cube.name!r} repeats a rollup name")
    if problems:
        raise ConfigError("\n".join(problems))


REAGGREGABLE = ("count", "sum", "min", "max")
"""Measure types a rollup stores: a sum of counts or sums, a min of mins, a max of maxes
equals the measure over the rows. (An average, a median or a distinct count does not.)"""


def _rollup_problems(model: SemanticModel, cube: Cube, rollup: Rollup) -> list[str]:
    label = f"rollup {cube.name}.{rollup.name}"
    problems: list[str] = []
    if not rollup.measures:
        problems.append(f"{label}: needs at least one measure")
    raw = set(rollup.dimension_members(cube.name))
    time_dim = cube.dimension(rollup.time_dimension) if rollup.time_dimension else None
    if rollup.time_dimension is not None:
        if time_dim is None or time_dim.type != "time":
            problems.append(
                f"{label}: time_dimension {rollup.time_dimension!r} is not a time dimension "
                f"of {cube.name!r}"
            )
        elif rollup.granularity is None:
            problems.append(f"{label}: a time_dimension needs a granularity")
        elif rollup.granularity not in time_dim.granularities:
            problems.append(
                f"{label}: {rollup.granularity!r} is not a granularity of "
                f"{cube.name}.{time_dim.name}"
            )
        elif time_dim.grain == rollup.granularity:
            raw.add(f"{cube.name}.{time_dim.name}")  # stored as it is
    elif rollup.granularity is not None:
        problems.append(f"{label}: a granularity needs a time_dimension")
    for name in rollup.measures:
        measure = cube.measure(name)
        if measure is None:
            problems.append(f"{label}: {name!r} is not a measure of {cube.name!r}")
        elif measure.type not in REAGGREGABLE:
            problems.append(
                f"{label}: measure {name!r} is {measure.type}, which a rollup cannot add up "
                f"again; a rollup stores {', '.join(REAGGREGABLE)} (number measures are "
                "computed from the measures they use)"
            )
        elif measure.semi_additive and f"{cube.name}.{measure.semi_additive}" not in raw:
            problems.append(
                f"{label}: measure {name!r} is a balance over {measure.semi_additive!r}: the "
                "rollup must keep that dimension's own values (its time_dimension at the "
                "dimension's grain, or among its dimensions)"
            )
    members = rollup.dimension_members(cube.name)
    for member in sorted({m for m in members if members.count(m) > 1}):
        problems.append(f"{label}: {member!r} is listed twice")
    if rollup.time_dimension is not None and f"{cube.name}.{rollup.time_dimension}" in members:
        # One column would hold both its own values and the truncated ones.
        problems.append(
            f"{label}: '{cube.name}.{rollup.time_dimension}' is both a dimension and its "
            "time_dimension; give it once"
        )
    for member in rollup.dimension_members(cube.name):
        other_name, _, dim_name = member.partition(".")
        other = model.cubes.get(other_name)
        if other is None or other.dimension(dim_name) is None:
            problems.append(f"{label}: unknown dimension {member!r}")
            continue
        path = join_path(model, cube.name, other_name)
        if path is None:
            problems.append(f"{label}: {member!r}: cube {other_name!r} is not joined to it")
        elif any(relationship == "one_to_many" for _, _, relationship in path):
            problems.append(
                f"{label}: {member!r} is reached through a one-to-many join, which would "
                f"count {cube.name!r} rows more than once"
            )
    return problems


def _metric_cycles(model: SemanticModel) -> list[str]:
    problems: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == 2 or name not in model.metrics:
            return
        if state.get(name) == 1:
            where = model.origin[f"metric:{name}"]
            problems.append(f"{where}: metric cycle {' → '.join((*path, name))}")
            return
        state[name] = 1
        for ref in metric_references(model.metrics[name]):
            if "." not in ref:
                visit(ref, (*path, name))
        state[name] = 2

    for name in model.metrics:
        visit(name, ())
    return problems
