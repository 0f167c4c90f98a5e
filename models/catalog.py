"""The model catalog: every SQL file under models/<layer>/, its documentation and its inputs.

Why SQL files with a YAML front-matter comment: the analyst reads the query and its
documentation in one place, the file stays valid SQL for any editor, and dependencies
are read from the query itself (sqlglot table references) so they can never drift from
what the model really reads. A model's output table is `<schema>.<file name>`; the
schema is `cdp_staging` for the staging layer and `cdp` for every other layer unless
the front-matter says otherwise.

Front-matter keys:
    description   what the table is, for analysts (shown by `headwater docs` and Dagster)
    columns       column name -> description; every output column must be listed
    materialized  table (default: replaced each build), append (a log: rows are added),
                  or runner (a Python step in the model's folder does the work)
    runner        "module:function" for materialized: runner
    depends_on    extra model tables a runner reads that its SQL does not show
    by_profile    a table model whose rows are per person: an incremental build redoes only
                  the people whose input rows changed (models.by_profile). Its key
                  as_of_cuts lists the input columns the build's as_of is compared with
                  ({table, column, days_before}), so a moved as_of redoes the people with a
                  row between the two cut-offs
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Literal

import sqlglot
import yaml
from sqlglot import exp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.adapter import MODEL_DIALECT

MODELS_ROOT = Path(__file__).resolve().parent
LAYERS = ("staging", "identity", "profiles", "audiences", "conversions")
LAYER_SCHEMA = {"staging": "cdp_staging"}
DEFAULT_SCHEMA = "cdp"

_FRONT_MATTER = re.compile(r"\A\s*/\*\s*---\s*\n(?P<yaml>.*?)\n\s*---\s*\*/\s*", re.DOTALL)


class ModelError(Exception):
    """A model file that cannot be used, with the file and the fix."""


class AsOfCut(BaseModel):
    """An input column a by-profile model compares with `as_of - days_before` days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    column: str
    days_before: int = 0


class ByProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of_cuts: tuple[AsOfCut, ...] = ()


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    columns: dict[str, str] = Field(default_factory=dict)
    materialized: Literal["table", "append", "runner"] = "table"
    runner: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    schema_: str | None = Field(None, alias="schema")
    by_profile: ByProfile | None = None


@dataclass(frozen=True)
class Model:
    name: str
    schema: str
    layer: str
    path: Path
    sql: str
    description: str
    columns: dict[str, str]
    materialized: str
    runner: str | None
    depends_on: tuple[str, ...] = field(default=())
    references: tuple[str, ...] = field(default=())
    by_profile: ByProfile | None = None

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def target(self) -> str:
        """The output table, quoted for SQL."""
        return f'"{self.schema}"."{self.name}"'


def referenced_tables(sql: str) -> set[str]:
    """`schema.table` of every table the SQL reads, CTE names excluded."""
    if not sql.strip():
        return set()
    try:
        statements = sqlglot.parse(sql, read=MODEL_DIALECT)
    except sqlglot.errors.ParseError as error:
        raise ModelError(f"SQL does not parse as DuckDB: {error}") from None
    found: set[str] = set()
    for statement in statements:
        if statement is None:
            continue
        ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if table.db:
                found.add(f"{table.db}.{table.name}")
            elif table.name not in ctes:
                found.add(table.name)
    return found


def parse_model(path: Path, layer: str) -> tuple[Model, set[str]]:
    text = path.read_text()
    match = _FRONT_MATTER.match(text)
    where = path.relative_to(MODELS_ROOT.parent) if path.is_relative_to(MODELS_ROOT.parent) else path
    if not match:
        raise ModelError(f"{where}: missing front-matter; start the file with /* --- description: ... --- */")
    try:
        front = FrontMatter.model_validate(yaml.safe_load(match.group("yaml")) or {})
    except yaml.YAMLError as error:
        raise ModelError(f"{where}: front-matter is not valid YAML: {error}") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'front-matter'}: {e['msg']}" for e in error.errors())
        raise ModelError(f"{where}: front-matter is not valid: {problems}") from None
    if front.materialized == "runner" and not front.runner:
        raise ModelError(f"{where}: materialized: runner needs runner: module:function")
    if front.by_profile is not None and front.materialized != "table":
        raise ModelError(f"{where}: by_profile is for materialized: table models (a SELECT redone per person)")
    if front.by_profile is not None and "profile_id" not in front.columns:
        raise ModelError(f"{where}: by_profile needs a profile_id column: it is what rows are redone by")
    sql = text[match.end():].strip().rstrip(";")
    if front.materialized != "runner" and not sql:
        raise ModelError(f"{where}: no SELECT after the front-matter")
    try:
        references = referenced_tables(sql)
    except ModelError as error:
        raise ModelError(f"{where}: {error}") from None
    model = Model(
        name=path.stem, schema=front.schema_ or LAYER_SCHEMA.get(layer, DEFAULT_SCHEMA), layer=layer, path=path,
        sql=sql, description=" ".join(front.description.split()), columns=front.columns,
        materialized=front.materialized, runner=front.runner, by_profile=front.by_profile,
    )
    return model, references | set(front.depends_on)


def discover(root: Path = MODELS_ROOT) -> list[Model]:
    """Every model under `root`, in an order where each comes after the models it reads."""
    parsed: list[tuple[Model, set[str]]] = []
    for layer in LAYERS:
        for path in sorted((root / layer).glob("*.sql")):
            parsed.append(parse_model(path, layer))
    by_key = {model.key: model for model, _ in parsed}
    if len(by_key) != len(parsed):
        raise ModelError("two model files produce the same table; rename one")
    graph: dict[str, tuple[str, ...]] = {}
    resolved: dict[str, Model] = {}
    for model, references in parsed:
        deps = tuple(sorted(ref for ref in references if ref in by_key and ref != model.key))
        resolved[model.key] = Model(**{**model.__dict__, "depends_on": deps, "references": tuple(sorted(references))})
        graph[model.key] = deps
    for model in resolved.values():
        _check_as_of_cuts(model, resolved)
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as error:
        raise ModelError(f"models depend on each other in a cycle: {' -> '.join(error.args[1])}") from None
    ordered: list[Model] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda key: (LAYERS.index(resolved[key].layer), key))
        ordered.extend(resolved[key] for key in ready)
        sorter.done(*ready)
    return ordered


def read_by_person(model: Model, models: dict[str, Model]) -> tuple[str, ...]:
    """The models (of `models`, by key) `model` reads that have a profile_id column."""
    return tuple(dep for dep in model.depends_on if dep in models and "profile_id" in models[dep].columns)


def _check_as_of_cuts(model: Model, models: dict[str, Model]) -> None:
    """A by-profile model's as_of cuts must name inputs it reads by person."""
    if model.by_profile is None:
        return
    keyed = read_by_person(model, models)
    for cut in model.by_profile.as_of_cuts:
        if cut.table not in keyed:
            raise ModelError(f"{model.path.name}: as_of_cuts names {cut.table}, which is not a model it reads "
                             f"by profile_id ({', '.join(keyed) or 'none'})")
        if cut.column not in models[cut.table].columns:
            raise ModelError(f"{model.path.name}: as_of_cuts names {cut.table}.{cut.column}, which has no such column")


@lru_cache(maxsize=1)
def catalog() -> tuple[Model, ...]:
    """The shipped models, parsed once per process."""
    return tuple(discover())


def find(key: str) -> Model:
    for model in catalog():
        if model.key == key or model.name == key:
            return model
    raise ModelError(f"no model named {key!r}; `headwater docs` lists them")
