"""The library facade: one object that the CLI, the server and the tests all call.

A workspace is a folder with ``custlens.yml`` (see :mod:`custlens.config`)
and, by default, the DuckDB warehouse file beside it.

Example::

    ws = Workspace.init("acme")
    ws.generate(customers=500, months=24, seed=7)
    ws.run()
    ws.table("growth_summary").tail(3)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from custlens import currency
from custlens.calendar import as_of_month, month_end
from custlens.config import CONFIG_FILE, DEFAULT_CONFIG_TEXT, Config, load_config
from custlens.errors import ConfigError, ContractError, CustlensError, NotFoundError
from custlens.format import round_money
from custlens.runlog import RUN_ID_COLUMN, RUNS_TABLE, latest
from custlens.sources.contract import SOURCE_PREFIX, TABLES
from custlens.warehouse import Warehouse, connect

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.facts.registry import FactContext
    from custlens.handoff import Delivery, ListKind
    from custlens.pipeline import Progress, RunResult
    from custlens.scoped import RoleView
    from custlens.semantic import Compiler, QueryResult, SemanticModel, rollup
    from custlens.semantic.access import Role
    from custlens.semantic.cache import ResultCache, StoredAnswers
    from custlens.views import AtRiskBy
    from custlens.warehouse import ServingCopies

SEMANTIC_DIR = "semantic"
ANSWERS_DIR = ".custlens/answers"
"""Query answers of the latest run, kept between commands (custlens.semantic.cache)."""
COMPILED_SQL_FILE = ".custlens/compiled-sql.json"
"""The SQL of the last run's facts and rollups, for the next run (custlens.warehouse.compiled)."""


class Workspace:
    """A custlens workspace: its config, its warehouse, its sources and facts."""

    def __init__(
        self,
        path: str | Path = ".",
        *,
        serving: bool = False,
        results: ResultCache | None = None,
        keep_answers: bool = False,
    ) -> None:
        """Open the workspace at ``path``.

        Args:
            serving: open it for a server that only reads (a DuckDB warehouse from its
                latest serving copy, so runs go on beside it).
            results: answers to share with other workspaces on the same folder (a
                server's threads); None keeps no answers.
            keep_answers: keep query answers on disk until the next run, for the next
                process that asks the same (the command line: each command is a process).
        """
        self.path = Path(path).resolve()
        self.serving = serving
        self.config: Config = load_config(self.path / CONFIG_FILE)
        self._warehouse: Warehouse | None = None
        self._model: SemanticModel | None = None
        self._compiler: Compiler | None = None
        self.results = results
        self.keep_answers = keep_answers

    @classmethod
    def init(cls, path: str | Path, *, warehouse: str | None = None) -> Workspace:
        """Create the folder and a commented ``custlens.yml`` (kept if it exists)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / CONFIG_FILE
        if not config.exists():
            text = DEFAULT_CONFIG_TEXT
            if warehouse:
                text = text.replace(
                    "warehouse: duckdb:///custlens.duckdb", f"warehouse: {warehouse}"
                )
            config.write_text(text, encoding="utf-8")
        return cls(folder)

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse, connected on first use."""
        if self._warehouse is None:
            self._warehouse = connect(
                self.config.warehouse,
                self.path,
                memory_limit=self.config.memory_limit,
                threads=self.config.threads,
                serving=self.serving,
                spark=self.config.spark,
            )
        return self._warehouse

    def close(self) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sources ----------------------------------------------------------

    def load(
        self,
        items: Mapping[str, str | Path | Any],
        *,
        allow_empty: bool = False,
        create_missing_customers: bool = False,
        mappings: Mapping[str, Mapping[str, str]] | None = None,
        delimiter: str | None = None,
        date_format: str | None = None,
        decimal: str | None = None,
        encoding: str | None = None,
    ) -> dict[str, int]:
        """Validate and load sources, all or nothing.

        Args:
            items: contract table name → a CSV/Parquet path, a Postgres URL
                (``postgresql://host/db?table=schema.name``) or a data frame.
            allow_empty: load a header-only file (it empties its table).
            create_missing_customers: add to customers the ids that lines or
                transactions name and customers lacks (else they are refused).
            mappings: per table, source column names and the contract names they
                mean, on top of the config's ``mappings``.
            delimiter: CSV files' field separator (default: sniffed from the header).
            date_format: a strftime format of dates written otherwise than ISO
                (``%d/%m/%Y``); ISO dates are read too.
            decimal: the decimal mark (``.`` or ``,``) of amounts written for a person,
                with currency symbols and thousands separators (``$1,200.50``).
            encoding: CSV files' text encoding (default: UTF-8, or UTF-16 by its mark).

        Returns:
            Rows loaded per table.

        Raises:
            ContractError: any item is invalid; nothing was loaded.
        """
        from custlens.semantic import rollup
        from custlens.sources import checksums
        from custlens.sources.convert import Reading
        from custlens.sources.load import load_sources

        if decimal not in (None, ".", ","):
            raise ConfigError(f"decimal mark {decimal!r}: expected '.' or ','")

        self._compiler = None
        loaded = load_sources(
            self.warehouse,
            items,
            allow_empty=allow_empty,
            existing_customers=self._loaded_customers,
            create_missing_customers=create_missing_customers,
            checksums=lambda: checksums.stored(self.warehouse),
            mappings={
                table: {**self.config.mappings.get(table, {}), **(mappings or {}).get(table, {})}
                for table in {*self.config.mappings, *(mappings or {})}
            },
            delimiter=delimiter,
            reading=Reading(date_format, decimal),
            encoding=encoding,
        )
        # A rollup may read a source: none is current until the next run rebuilds them.
        rollup.invalidate(self.warehouse)
        return loaded

    def _loaded_customers(self) -> pl.DataFrame | None:
        """The customers loaded before (the referential check of a load reads them)."""
        name = TABLES["customers"].warehouse_name
        if not self.warehouse.has(name):
            return None
        return self.warehouse.to_polars(self.warehouse.table(name))

    def load_dir(
        self,
        directory: str | Path,
        *,
        allow_empty: bool = False,
        create_missing_customers: bool = False,
        delimiter: str | None = None,
        date_format: str | None = None,
        decimal: str | None = None,
        encoding: str | None = None,
    ) -> dict[str, int]:
        """Load every ``<table>.csv|parquet`` of a folder, all or nothing (see :meth:`load`)."""
        from custlens.sources.load import find_sources

        found = find_sources(Path(directory))
        if not found:
            known = ", ".join(TABLES)
            raise ContractError(f"{directory}: no <table>.csv or .parquet files (tables: {known})")
        return self.load(
            found,
            allow_empty=allow_empty,
            create_missing_customers=create_missing_customers,
            delimiter=delimiter,
            date_format=date_format,
            decimal=decimal,
            encoding=encoding,
        )

    def generate(
        self,
        customers: int = 1000,
        months: int = 24,
        seed: int = 0,
        start: date | None = None,
    ) -> dict[str, int]:
        """Generate a synthetic data set (see :func:`custlens.synth.generate`) and load it."""
        from custlens.synth import generate

        return self.load(generate(customers=customers, months=months, seed=seed, start=start))

    @staticmethod
    def generate_files(
        out: str | Path,
        customers: int = 1000,
        months: int = 24,
        seed: int = 0,
        start: date | None = None,
        *,
        fmt: str = "parquet",
    ) -> dict[str, int]:
        """Write a synthetic data set to the folder ``out`` as CSV or Parquet files (no
        workspace needed): rows written per table."""
        from custlens.synth import generate, write

        frames = generate(customers=customers, months=months, seed=seed, start=start)
        write(frames, Path(out), fmt=fmt)  # type: ignore[arg-type]
        return {name: frame.height for name, frame in frames.items()}

    # -- facts ------------------------------------------------------------

    def run(
        self,
        as_of: date | None = None,
        progress: Progress | None = None,
        only: list[str] | None = None,
        *,
        config: Config | None = None,
    ) -> RunResult:
        """Compute every fact whose inputs are loaded (see :func:`custlens.pipeline.run`),
        then the semantic model's rollups from them (see :meth:`build_rollups`).

        Args:
            only: these facts and what they read (see :meth:`steps_of`).
            config: settings for this run only (default: the workspace's).
        """
        from custlens.pipeline import run
        from custlens.warehouse.compiled import cache_for

        self._compiler = None  # cube tables are about to change
        compiled = cache_for(self.warehouse.kind)
        compiled.load(self.path / COMPILED_SQL_FILE)
        result = run(
            self.warehouse, config or self.config, as_of=as_of, progress=progress, only=only
        )
        try:
            built = self.build_rollups(result.run_id, progress=progress)
        except ConfigError as exc:  # a broken semantic model does not undo the facts
            result.rollups_skipped["rollups"] = str(exc)
            return result
        finally:
            compiled.save(self.path / COMPILED_SQL_FILE)
        result.rollups = built.written
        result.rollups_skipped = built.skipped
        result.profile.extend(built.profile)
        return result

    def build_rollups(
        self, run_id: str | None = None, progress: Progress | None = None
    ) -> rollup.BuildResult:
        """Rebuild the semantic model's rollups for the latest run (or ``run_id``).

        Raises:
            NotFoundError: nothing has been run yet.
        """
        from custlens.semantic import rollup

        run_id = run_id or self.latest_run()[0]
        if run_id is None:
            raise NotFoundError("no successful run yet: run `custlens run` first")
        self._compiler = None
        from custlens.semantic import Compiler

        compiler = Compiler(self.semantic_model, self.warehouse, rollups=False)
        return rollup.build(
            self.warehouse, self.semantic_model, run_id, compiler.rollup_expr, progress
        )

    def context(self) -> FactContext:
        """The live tables (sources in the reporting currency) and the as-of date of the
        latest successful run, for ad hoc facts.

        Raises:
            NotFoundError: nothing has been run yet.
        """
        from custlens.facts.exchange import in_reporting_currency
        from custlens.facts.registry import FactContext

        as_of = self.run_as_of()
        live = _LiveTables(self.warehouse, self.tables())
        # Sources in the reporting currency, as the run's facts read them.
        money = in_reporting_currency(live, self.config, self.warehouse.to_polars)
        live.converted.update(money.tables)
        return FactContext(
            live, as_of, self.config, collect=self.warehouse.to_polars, currency=money.reporting
        )

    # -- semantic layer ---------------------------------------------------

    @property
    def semantic_model(self) -> SemanticModel:
        """The shipped model extended by this workspace's ``semantic/*.yml``."""
        from custlens.semantic import load_model

        if self._model is None:
            self._model = load_model(self.path / SEMANTIC_DIR)
        return self._model

    def query(
        self,
        metrics: list[str] | None = None,
        dimensions: list[str] | None = None,
        *,
        time_dimensions: list[dict[str, Any]] | None = None,
        filters: list[dict[str, Any]] | None = None,
        order_by: list[Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        compare: str | None = None,
        role: Role | None = None,
    ) -> QueryResult:
        """Answer a semantic-layer query (see :mod:`custlens.semantic.compile`).

        Example::

            ws.query(["subscriptions.mrr"], ["customers.segment"],
                     time_dimensions=[{"dimension": "subscriptions.month",
                                       "granularity": "quarter"}])

        Raises:
            QueryError: a bad member, operator or value (the message names it).
        """
        spec: dict[str, Any] = {
            "metrics": metrics or [],
            "dimensions": dimensions or [],
            "time_dimensions": time_dimensions or [],
            "filters": filters or [],
            "order_by": order_by or [],
            "limit": limit,
            "offset": offset,
            "compare": compare,
        }
        return self.run_query(spec, role=role)

    def run_query(self, spec: Any, *, role: Role | None = None) -> QueryResult:
        """Answer a query given as its JSON mapping (what the HTTP API receives)."""
        run_id, as_of, recorded = self._latest()
        as_of_date = self._as_of_date(as_of)
        money = self._currency_of(recorded)
        max_rows = self.config.server.max_rows
        stored: tuple[StoredAnswers, str] | None = None
        if self.keep_answers and run_id is not None:
            from custlens.semantic.cache import StoredAnswers, workspace_digest
            from custlens.semantic.plan import reordered
            from custlens.semantic.query import canonical, parse_query

            parsed = parse_query(spec)
            answers = StoredAnswers(self.path / ANSWERS_DIR)
            digest = workspace_digest(self.path / SEMANTIC_DIR, self.path / CONFIG_FILE)
            key = answers.key(
                canonical(parsed).model_dump_json(), role, as_of_date, max_rows, money, digest
            )
            hit = answers.get(run_id, key)
            if hit is not None:
                return replace(reordered(hit, parsed.metrics, cached=True), run_id=run_id)
            stored = answers, key
        from custlens.semantic import Compiler

        if self._compiler is None:
            self._compiler = Compiler(self.semantic_model, self.warehouse)
        result = self._compiler.run(
            spec,
            as_of=as_of_date,
            role=role,
            max_rows=max_rows,
            run_id=run_id,
            results=self.results,
            currency=money,
        )
        if stored is not None and run_id is not None:
            stored[0].put(run_id, stored[1], result)
        return replace(result, run_id=run_id)

    def visible_customers(self, role: Role) -> ir.Table:
        """The resolved ids (column ``customer_id``) of the customers ``role`` may see:
        ``customers.customer_id`` under its row filters, as an unexecuted expression."""
        from custlens.semantic import Compiler

        if self._compiler is None:
            self._compiler = Compiler(self.semantic_model, self.warehouse)
        expr = self._compiler.expression(
            {"dimensions": ["customers.customer_id"]}, as_of=self.as_of(), role=role
        )
        return expr.select(customer_id=expr["customers.customer_id"])

    def latest_run(self) -> tuple[str | None, date | None]:
        """Id and as-of date of the latest successful run; (None, None) before the first.

        One small query, asked on every semantic query and every profile.
        """
        run_id, as_of, _ = self._latest()
        return run_id, as_of

    def currency(self) -> str:
        """The reporting currency (ISO 4217) of the facts: the latest successful run's,
        else ``reporting_currency`` of custlens.yml, else USD. Amounts are shown in it."""
        return self._currency_of(self._latest()[2])

    def _currency_of(self, recorded: str | None) -> str:
        return recorded or self.config.reporting_currency or currency.DEFAULT

    def _latest(self) -> tuple[str | None, date | None, str | None]:
        """Id, as-of date and recorded currency of the latest successful run."""
        return latest(self.warehouse)

    def last_run_as_of(self) -> date | None:
        """The as-of date of the latest successful run, or None before the first."""
        return self.latest_run()[1]

    def run_as_of(self) -> date:
        """The as-of date of the latest successful run, for what reads its facts.

        Raises:
            NotFoundError: nothing has been run yet.
        """
        as_of = self.last_run_as_of()
        if as_of is None:
            raise NotFoundError("no successful run yet: run `custlens run` first")
        return as_of

    def as_of_month(self, explicit: date | None = None) -> date | None:
        """The month a command on this workspace computes to (its first day), by the rule
        of :func:`custlens.calendar.as_of_month`: ``explicit``, else the latest successful
        run's, else the configured one; None leaves it to the run's own default."""
        return as_of_month(explicit, self.last_run_as_of(), self.config.as_of_month())

    def as_of(self) -> date:
        """The date queries count relative ranges from: the last day of the as-of month
        (:meth:`as_of_month`), else today."""
        return self._as_of_date(self.last_run_as_of())

    def _as_of_date(self, latest_run: date | None) -> date:
        month = as_of_month(None, latest_run, self.config.as_of_month())
        return month_end(month) if month is not None else date.today()

    def tables(self) -> list[str]:
        """Live tables of the warehouse: sources (``src_…``), facts, the run log and the
        sources' checksums."""
        return self.warehouse.list_tables()

    def table(self, name: str) -> pl.DataFrame:
        """A fact, a source (by its contract name) or the run log, as a Polars frame.

        Raises:
            NotFoundError: no such table; the message lists the ones there are.
        """
        stored = self._stored_name(name)
        frame = self.warehouse.read(stored)
        sort = [c for c in ("month", "value_type_id", "customer_id") if c in frame.columns]
        return frame.sort(sort) if sort and name != RUNS_TABLE else frame

    def runs(self) -> pl.DataFrame:
        """The run log, newest first."""
        if not self.warehouse.has(RUNS_TABLE):
            return pl.DataFrame()
        return self.table(RUNS_TABLE).sort("started_at", descending=True)

    def profile(self, customer_id: str, *, role: Role | None = None) -> dict[str, Any]:
        """The Customer 360 of a customer, found by any of its source ids; with ``role``,
        as that role may see it (inside its row filter, PII masked unless privileged).

        See :func:`custlens.profile.profile` for the shape; PII keys are in
        :data:`custlens.profile.PII_FIELDS`.

        Raises:
            NotFoundError: no customer has this id (or none the role may see).
        """
        from custlens.profile import profile

        found = profile(self.warehouse, self.run_as_of(), customer_id)
        if role is None:
            return found
        from custlens.scoped import profile_as

        return profile_as(self, found, customer_id, role)

    # -- what a person asks for -----------------------------------------------

    def role_for_key(self, api_key: str | None) -> Role:
        """The role of an API key (:func:`custlens.semantic.access.role_for_key`).

        Raises:
            AccessError: (401) keys are configured and this one is missing or unknown.
        """
        from custlens.semantic.access import role_for_key

        return role_for_key(self.config, api_key, self.path)

    @staticmethod
    def answer_cache() -> ResultCache:
        """A cache of answers that several workspaces on one folder may share (pass it as
        ``results``): a server's threads answer a repeated query once per run."""
        from custlens.semantic.cache import ResultCache

        return ResultCache()

    def serving_copies(self) -> ServingCopies | None:
        """The serving copies a server reads while runs write (a DuckDB file; None for
        engines that let a server read beside a writer)."""
        from custlens.warehouse import serving_copies

        return serving_copies(self.config.warehouse, self.path)

    def role(self, name: str) -> Role:
        """The role ``name`` of ``custlens.yml``, with the workspace's PII salt.

        Raises:
            AccessError: no such role (the message lists the roles).
        """
        from custlens.semantic.access import named_role

        return named_role(self.config, name, self.path)

    def as_role(self, role: Role | None) -> Workspace | RoleView:
        """This workspace as ``role`` sees it (:class:`custlens.scoped.RoleView`); itself
        for None or a privileged role without a row filter."""
        from custlens.scoped import as_role

        return as_role(self, role)

    def at_risk(
        self, by: AtRiskBy = "overdue", top: int = 10, *, role: Role | None = None
    ) -> pl.DataFrame:
        """The top at-risk customers by one signal (:func:`custlens.views.at_risk`)."""
        from custlens import views

        return views.at_risk(self.as_role(role), by=by, top=top)

    def segments(self, by: str = "segment", *, role: Role | None = None) -> pl.DataFrame:
        """Customers, revenue, MRR and churn per value of a customer dimension
        (:func:`custlens.views.segments`)."""
        from custlens import views

        return views.segments(self.as_role(role), by=by)

    def hand_off(self, kind: ListKind, *, role: Role | None = None) -> pl.DataFrame:
        """A hand-off list for a CRM (:func:`custlens.handoff.hand_off_list`)."""
        from custlens.handoff import hand_off_list

        return hand_off_list(self.as_role(role), kind)

    def post_hand_off(
        self, kind: ListKind, url: str, *, role: Role | None = None
    ) -> tuple[pl.DataFrame, Delivery]:
        """Post the hand-off list ``kind`` to the webhook at ``url`` (retries, an
        Idempotency-Key; :func:`custlens.handoff.post`): the list and the delivery."""
        from custlens.handoff import FORMER_NAMES, payload, post

        kind = FORMER_NAMES.get(kind, kind)
        rows = self.hand_off(kind, role=role)
        delivery = post(url, payload(kind, rows, self.run_as_of().isoformat()))
        return rows, delivery

    def catalog(self) -> pl.DataFrame:
        """The metrics catalog: every metric's definition, formula, table, owner, cadence."""
        from custlens.semantic.catalog import catalog_frame

        return catalog_frame(self.semantic_model)

    def report(self, out: str | Path | None = None, *, role: Role | None = None) -> Path:
        """Write the dashboard (as ``role`` sees the facts) to ``out`` (default
        ``<workspace>/report.html``)."""
        from custlens.report import write_report

        return write_report(self, out, role=role)

    def fit_clv(
        self, as_of: date | None = None, holdout_from: date | None = None, **settings: Any
    ) -> tuple[RunResult, dict[str, Any], pl.DataFrame | None]:
        """Fit the CLV models with these ``analytics.clv`` settings (for this run only)
        and write ``clv_predictions`` (:func:`custlens.predict.workflow.fit_and_write`);
        with ``holdout_from``, also fit before that day and compare the holdout's
        predicted and actual purchases (:func:`custlens.predict.workflow.backtest`).

        Returns:
            The run, the fitted models' notes, and the holdout table (or None).

        Raises:
            ConfigError: the holdout would be empty (checked before fitting).
            ModelFitError: a model could not be fitted; nothing was written.
        """
        from custlens.predict.workflow import backtest, check_holdout, fit_and_write, with_settings

        if holdout_from is not None and as_of is not None:
            check_holdout(holdout_from, month_end(as_of))
        result, notes = fit_and_write(self, as_of, **settings)
        if holdout_from is None:
            return result, notes, None
        end = month_end(result.as_of) if result.as_of else None
        config = with_settings(self.config, **settings)
        return result, notes, backtest(self, holdout_from, end, config=config)

    def fit_churn_model(
        self, as_of: date | None = None, horizon_months: int | None = None
    ) -> tuple[RunResult, dict[str, Any]]:
        """Fit the churn model (this horizon for this run only) and write
        ``churn_propensity`` (:func:`custlens.predict.churn.fit_and_write`)."""
        from custlens.predict.churn import fit_and_write

        return fit_and_write(self, as_of, horizon_months)

    def steps(self, only: list[str] | None = None) -> int:
        """How many steps a run of ``only`` takes, its facts and the rollups (a progress
        bar's total)."""
        from custlens.pipeline import selected

        try:
            rollups = sum(len(cube.rollups) for cube in self.semantic_model.cubes.values())
        except CustlensError:
            rollups = 0  # the run reports the broken model after the facts
        return len(selected(only)) + rollups

    def interrupt(self) -> None:
        """Stop the query running on this workspace's connection, where the engine can."""
        if self._warehouse is not None:
            self._warehouse.interrupt()

    def export(self, name: str, out: str | Path, *, role: Role | None = None) -> Path:
        """Write a table to CSV or Parquet, chosen by the file's extension; with ``role``,
        as that role sees it (:class:`custlens.scoped.RoleView`)."""
        from custlens.scoped import as_role

        target = Path(out)
        suffix = target.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise ConfigError(
                f"{target}: export writes .csv or .parquet, not {suffix or 'no extension'!r}"
            )
        frame = as_role(self, role).table(name).drop(RUN_ID_COLUMN, strict=False)
        # Money leaves rounded to the cent, never with float noise (197279.25000000006).
        money = self.semantic_model.money_columns(self._stored_name(name))
        frame = round_money(frame, sorted(money), self.currency())
        target.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            frame.write_csv(target)
        else:
            frame.write_parquet(target)
        return target

    def _stored_name(self, name: str) -> str:
        present = self.warehouse.list_tables()
        for candidate in (name, SOURCE_PREFIX + name):
            if candidate in present:
                return candidate
        facts = sorted(n for n in present if not n.startswith(("_", SOURCE_PREFIX)))
        raise NotFoundError(
            f"no table {name!r}; facts: {', '.join(facts) or 'none (run `custlens run`)'}"
        )


class _LiveTables(Mapping[str, "ir.Table"]):
    """The warehouse's live tables by name, each opened when first asked for.

    Opening a table asks the engine for its schema; an ad hoc fact reads a few of the
    workspace's forty tables (``segments --by region``: 0.1 s of opening saved).
    ``converted`` holds the sources converted to the reporting currency, read in
    place of the stored ones.
    """

    def __init__(self, warehouse: Warehouse, names: list[str]) -> None:
        self._warehouse = warehouse
        self._names = names
        self.converted: dict[str, ir.Table] = {}

    def __getitem__(self, name: str) -> ir.Table:
        if name in self.converted:
            return self.converted[name]
        if name not in self._names:
            raise KeyError(name)
        return self._warehouse.table(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
