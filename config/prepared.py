"""Hot-path reads compiled to SQL once per process, then run with new parameter values.

Building and compiling a queryset costs Django about as much CPU as the database spends answering
a primary-key lookup; on a request that makes a handful of them (`POST /api/v1/orders`) that was a
third of the request. `PreparedQuery` keeps what compiling a queryset produces (the SQL, where
each parameter goes, the result converters) and, on each call, only executes the SQL and builds
the model instances with `Model.from_db`, as Django's own `ModelIterable` does.

Nothing is cached but the SQL text (a function of the models and the backend, never of the data),
so every call reads the database afresh: a prepared read sees a change the moment it commits.

On PostgreSQL these statements also run through `hot_cursor`: a server-binding psycopg cursor, so
PostgreSQL parses and plans each of them once per connection (a prepared statement, after
`PREPARE_THRESHOLD` executions) instead of on every request; measured, that halves the database's
CPU per earn. Django's own cursors keep client-side binding and never prepare (Django's default,
for the sake of transaction-mode connection poolers): set `DB_SERVER_PREPARED_STATEMENTS = False`
in the settings behind PgBouncer older than 1.21 in transaction mode.

Restrictions, checked when compiling: parameters are `int` or `str` values compared as they are
(`field=value`, `field__in=[...]` is not supported); no `select_related` (one model per row).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import QuerySet

_sentinels = itertools.count(1)
PREPARE_THRESHOLD = 5


def hot_cursor(connection):
    """A cursor for a statement run on every request (see the module's docstring).

    On PostgreSQL (prepared statements on), one psycopg cursor per database connection is kept
    and reused (`_HotCursor`): making a cursor and wrapping it as Django does cost about as much
    Python as sending the statement. Django's error translation (`IntegrityError`, ...) and its
    broken-transaction check are kept; while queries are logged or an execute wrapper is
    installed (tests counting statements, debug tooling), Django's own wrapper is used, so every
    statement is seen.
    """
    from django.conf import settings

    # `django.db.connection` is a proxy that looks the wrapper up on every attribute access:
    # resolve it once.
    db = connections[connection.alias]
    if db.vendor != "postgresql" or not settings.DB_SERVER_PREPARED_STATEMENTS:
        return db.cursor()
    db.close_if_health_check_failed()
    db.ensure_connection()
    raw = db.connection
    cached = db.__dict__.get("_hot_cursor")
    if cached is None or cached[0] is not raw:
        with db.wrap_database_errors:
            cached = (raw, _raw_cursor(db, raw))
        db.__dict__["_hot_cursor"] = cached
    db.validate_thread_sharing()
    if db.queries_logged:
        return db.make_debug_cursor(_raw_cursor(db, raw))
    if db.execute_wrappers:
        return db.make_cursor(_raw_cursor(db, raw))
    return _HotCursor(db, cached[1])


def _raw_cursor(db, raw):
    """A server-binding psycopg cursor, with times in the connection's zone (as Django's)."""
    import psycopg
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    if raw.prepare_threshold is None:  # Django's default: only server-binding cursors prepare
        raw.prepare_threshold = PREPARE_THRESHOLD
    cursor = psycopg.Cursor(raw)
    loader = raw.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)
    if db.timezone != loader.timezone:
        register_tzloader(db.timezone, cursor)
    return cursor


class _HotCursor:
    """The reused cursor behind `hot_cursor`: `execute` as Django's `CursorWrapper.execute` does
    it (broken-transaction check, database errors translated), without its per-call set-up."""

    __slots__ = ("cursor", "db")

    def __init__(self, db, cursor) -> None:
        self.db = db
        self.cursor = cursor

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None  # kept open for the next statement on this connection

    def execute(self, sql, params=None):
        self.db.validate_no_broken_transaction()
        with self.db.wrap_database_errors:
            return self.cursor.execute(sql, params)

    def fetchone(self):
        with self.db.wrap_database_errors:
            return self.cursor.fetchone()

    def fetchall(self):
        with self.db.wrap_database_errors:
            return self.cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self.cursor.rowcount


class PreparedQuery:
    """`PreparedQuery(lambda member_id: Account.objects.filter(member_id=member_id), member_id=int)`
    then `query(member_id=7)` -> a list of model instances (`query.first(...)`: one or None)."""

    def __init__(self, build: Callable[..., QuerySet], **param_types: type) -> None:
        for name, kind in param_types.items():
            if kind not in (int, str):
                raise TypeError(f"{name}: only int and str parameters are supported")
        self._build = build
        self._param_types = param_types
        self._compiled: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def _compile(self, alias: str) -> tuple:
        sentinels = {
            name: (
                -(10**12) - next(_sentinels) if kind is int else f"\x00prepared{next(_sentinels)}"
            )
            for name, kind in self._param_types.items()
        }
        queryset = self._build(**sentinels)
        assert not queryset.query.select_related, "PreparedQuery: no select_related"
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        by_value = {value: name for name, value in sentinels.items()}
        slots: list[tuple[int, str]] = []
        for position, value in enumerate(params):
            if isinstance(value, int | str) and value in by_value:
                slots.append((position, by_value[value]))
        missing = set(sentinels) - {name for _, name in slots}
        assert not missing, f"PreparedQuery: parameters not found in the SQL: {sorted(missing)}"
        klass_info = compiler.klass_info
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        init_list = [column[0].target.attname for column in compiler.select[start:end]]
        converters = compiler.get_converters(
            [s[0] for s in compiler.select[0 : compiler.col_count]]
        )
        return sql, list(params), slots, klass_info["model"], init_list, start, end, converters

    def __call__(self, *, using: str = "default", **values: Any) -> list:
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using) or self._compile(using)
                self._compiled[using] = compiled
        sql, params, slots, model, init_list, start, end, converters = compiled
        params = list(params)
        for position, name in slots:
            params[position] = values[name]
        with hot_cursor(connections[using]) as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            connection = connections[using]
            rows = [list(row) for row in rows]
            for row in rows:
                for position, (functions, expression) in converters.items():
                    value = row[position]
                    for function in functions:
                        value = function(value, expression, connection)
                    row[position] = value
        return [model.from_db(using, init_list, row[start:end]) for row in rows]

    def first(self, *, using: str = "default", **values: Any):
        rows = self(using=using, **values)
        return rows[0] if rows else None


_insert_sql: dict[tuple, tuple[str, bool]] = {}


_SLOW = object()  # a fast preparer's answer when the value needs Django's own conversion
_fast: dict[Any, list] = {}


def _fast_preparers(model, fields, connection) -> list:
    """Per field, a function that returns a value prepared exactly as `get_db_prep_save` would
    (or `_SLOW` when it cannot tell, so the caller asks Django), without Django's per-call
    machinery: a third of building an earn's INSERT parameters went to it.

    - `str` for Django's own `CharField` / `TextField`, `bool` for `BooleanField`: as they are;
    - integers (and foreign keys to integer keys): as they are, except on PostgreSQL, where
      Django wraps them in psycopg's sized types (`Int4`, `Int8`) so that the server gets the
      column's type, and so do we, with the same map;
    - on PostgreSQL, an aware `datetime` for a `DateTimeField` and a finite `Decimal` for a
      `DecimalField` go as they are (Django's adapters return them unchanged there);
    - None as None for all of those; any other field, value type or backend: `_SLOW`.
    Exact classes only, never a subclass, which may convert.
    `tests/config/test_prepared.py` compares the result with Django's compiler.
    """
    key = (model, connection.vendor)
    preparers = _fast.get(key)
    if preparers is not None:
        return preparers
    import datetime as dt
    from decimal import Decimal

    from django.db import models as m

    pg = connection.vendor == "postgresql"
    int_types = connection.ops.integerfield_type_map if pg else {}
    integer_fields = (
        m.IntegerField,
        m.BigIntegerField,
        m.SmallIntegerField,
        m.PositiveIntegerField,
        m.PositiveBigIntegerField,
        m.PositiveSmallIntegerField,
        m.AutoField,
        m.BigAutoField,
        m.SmallAutoField,
    )

    def same(kind):
        return lambda v: v if v is None or type(v) is kind else _SLOW

    def wrapped_int(wrap):
        return lambda v: None if v is None else (wrap(v) if type(v) is int else _SLOW)

    def aware(v):
        if v is None:
            return None
        return v if type(v) is dt.datetime and v.tzinfo is not None else _SLOW

    def finite(v):
        if v is None:
            return None
        return v if type(v) is Decimal and v.is_finite() else _SLOW

    preparers = []
    for f in fields:
        target = f.target_field if type(f) in (m.ForeignKey, m.OneToOneField) else f
        kind = type(target)
        if kind in (m.CharField, m.TextField):
            preparers.append(same(str))
        elif kind is m.BooleanField:
            preparers.append(same(bool))
        elif kind in integer_fields:
            if not pg:
                preparers.append(same(int))
            else:
                wrap = int_types.get(target.get_internal_type())
                preparers.append(wrapped_int(wrap) if wrap else lambda v: _SLOW)
        elif pg and kind is m.DateTimeField:
            preparers.append(aware)
        elif pg and kind is m.DecimalField:
            preparers.append(finite)
        else:
            preparers.append(lambda v: _SLOW)
    _fast[key] = preparers
    return preparers


def insert_sql(model, objs: list, *, connection, on_conflict=None, returning=None):
    """(sql, params) of Django's own INSERT of `objs` (every concrete field but the primary key).

    The SQL text is compiled once per (model, row count, options, backend); the parameters are
    each field's `pre_save` value prepared by `get_db_prep_save`, exactly what the insert compiler
    computes (`_fast_preparers` for the common cases). Fields with a custom placeholder
    (`get_placeholder`) are compiled every time.
    """
    from django.db.models.sql import InsertQuery

    connection = connections[connection.alias]  # not the per-access proxy
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    returning_names = tuple(f.name for f in returning or ())
    key = (model, len(objs), on_conflict, returning_names, connection.vendor)
    cached = _insert_sql.get(key)
    if cached is not None:
        sql, by_column = cached
        values = [f.pre_save(obj, True) for obj in objs for f in fields]
        if not any(hasattr(v, "resolve_expression") for v in values):
            fast = _fast_preparers(model, fields, connection)
            prepared = []
            for f, prepare, v in zip(fields * len(objs), fast * len(objs), values, strict=True):
                out = prepare(v)
                prepared.append(f.get_db_prep_save(v, connection) if out is _SLOW else out)
            if by_column:  # PostgreSQL's `UNNEST` form: one array per column
                width = len(fields)
                return sql, [prepared[i::width] for i in range(width)]
            return sql, prepared
    query = InsertQuery(model, on_conflict=on_conflict)
    query.insert_values(fields, objs)
    compiler = query.get_compiler(connection=connection)
    if returning:
        compiler.returning_fields = list(returning)
    [(sql, params)] = compiler.as_sql()
    plain = not any(hasattr(f, "get_placeholder") for f in fields)
    if plain and sql.count("%s") == len(params) == len(fields) * len(objs):
        _insert_sql[key] = (sql, False)
    elif (
        # Several rows on PostgreSQL: Django's `INSERT ... SELECT * FROM UNNEST(...)`, one array
        # parameter per column holding that column's prepared values, row by row.
        plain
        and len(objs) > 1
        and sql.count("%s") == len(params) == len(fields)
        and all(isinstance(p, list) and len(p) == len(objs) for p in params)
    ):
        _insert_sql[key] = (sql, True)
    return sql, list(params)


class ModelColumns:
    """The SELECT list of all a model's concrete columns under a table alias, and how to turn the
    matching slice of a raw row into an instance (with the backend's converters, as the ORM does).
    For hand-written reads that join unrelated tables (one round trip for two models)."""

    def __init__(self, model, alias: str, connection) -> None:
        qn = connection.ops.quote_name
        fields = model._meta.concrete_fields
        self.model = model
        self.width = len(fields)
        self.sql = ", ".join(f"{qn(alias)}.{qn(f.column)}" for f in fields)
        self.attnames = [f.attname for f in fields]
        self.converters = []
        for position, field in enumerate(fields):
            column = field.get_col(alias)
            functions = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            if functions:
                self.converters.append((position, functions, column))

    def instance(self, values, *, connection):
        """The model instance for `values` (this model's slice of a row); None if its key is NULL
        (the outer side of a LEFT JOIN that matched nothing)."""
        values = list(values)
        if values[self.attnames.index(self.model._meta.pk.attname)] is None:
            return None
        for position, functions, column in self.converters:
            value = values[position]
            for function in functions:
                value = function(value, column, connection)
            values[position] = value
        return self.model.from_db(connection.alias, self.attnames, values)
