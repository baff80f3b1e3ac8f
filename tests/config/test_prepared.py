"""`config.prepared`: SQL compiled once, data read afresh, the same values as the ORM's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from campaigns.models import Campaign
from config import prepared
from config.prepared import PreparedQuery, insert_sql
from loyalty.models import ExchangeRate

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def campaign(code: str, **fields) -> Campaign:
    fields.setdefault("kind", Campaign.Kind.MULTIPLIER)
    return Campaign.objects.create(code=code, name=code, starts_at=START, **fields)


by_code = PreparedQuery(lambda code: Campaign.objects.filter(code=code), code=str)
by_pk = PreparedQuery(lambda pk: Campaign.objects.filter(pk=pk, is_active=True), pk=int)


def fields_of(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_a_prepared_read_builds_the_same_instances_as_the_orm():
    campaign("double", multiplier=Decimal("2.50"), weekdays=[5, 6], ends_at=START.replace(day=9))

    [prepared] = by_code(code="double")

    orm = Campaign.objects.get(code="double")
    assert fields_of(prepared) == fields_of(orm)
    assert (prepared.multiplier, prepared.weekdays, prepared.ends_at) == (
        Decimal("2.50"),
        [5, 6],
        dt.datetime(2026, 3, 9, 9, 30, tzinfo=dt.UTC),
    )
    assert (prepared._state.adding, prepared._state.db) == (False, "default")


def test_each_call_binds_its_own_values_and_reads_the_data_as_it_is_now():
    first, second = campaign("one"), campaign("two")

    assert [c.code for c in by_pk(pk=first.pk)] == ["one"]
    assert by_pk.first(pk=second.pk).code == "two"
    Campaign.objects.filter(pk=second.pk).update(is_active=False)  # no signal, no service
    assert by_pk.first(pk=second.pk) is None
    assert by_code(code="nobody") == []


def test_only_plain_int_and_str_parameters_and_no_select_related():
    with pytest.raises(TypeError):
        PreparedQuery(lambda at: Campaign.objects.filter(starts_at__lte=at), at=dt.datetime)
    joined = PreparedQuery(lambda pk: Campaign.objects.select_related().filter(pk=pk), pk=int)
    with pytest.raises(AssertionError):
        joined(pk=1)


def test_insert_sql_compiled_once_writes_what_django_would():
    rows = [ExchangeRate(currency="EUR", rate=Decimal("0.85")), ExchangeRate(currency="USD")]
    rows[1].rate = Decimal("0.790001")

    for row in rows:  # the second runs on the SQL the first compiled
        sql, params = insert_sql(ExchangeRate, [row], connection=connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    assert sql.count("%s") == len(params) == 3  # currency, rate, updated_at
    assert (sql, False) in prepared._insert_sql.values()
    stored = {r.currency: r.rate for r in ExchangeRate.objects.all()}
    assert stored == {"EUR": Decimal("0.850000"), "USD": Decimal("0.790001")}
    assert all(r.updated_at is not None for r in ExchangeRate.objects.all())  # auto_now applied


@pytest.mark.postgres
def test_server_prepared_statements_can_be_switched_off_for_poolers(settings):
    import psycopg

    with prepared.hot_cursor(connection) as cursor:
        # binds parameters on the server, so PostgreSQL can keep the statement prepared
        assert not isinstance(cursor.cursor, psycopg.ClientCursor)

    settings.DB_SERVER_PREPARED_STATEMENTS = False
    with prepared.hot_cursor(connection) as cursor:
        assert isinstance(cursor.cursor, psycopg.ClientCursor)  # Django's own: never prepared
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_insert_sql_parameters_are_those_of_djangos_compiler(db):
    from django.db.models.sql import InsertQuery

    from loyalty.models import Posting

    def compiler_params(obj) -> list:
        fields = [f for f in Posting._meta.concrete_fields if not f.primary_key]
        query = InsertQuery(Posting)
        query.insert_values(fields, [obj])
        [(_sql, params)] = query.get_compiler(connection=connection).as_sql()
        return list(params)

    at = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    posting = Posting(
        actor_kind="api",
        actor_label="key",
        member_id=7,
        kind="earn",
        points=12,
        created_at=at,
        effective_at=at,
        available_at=at,
        expires_at=None,
        order_id=None,
        source_type="order",
        source_id="O-1",
        idempotency_key="order:O-1:earn",
        description="Order O-1",
    )
    insert_sql(Posting, [posting], connection=connection)  # compiles
    _sql, params = insert_sql(Posting, [posting], connection=connection)  # the compiled path

    assert params == compiler_params(posting)
    assert [type(p) for p in params] == [type(p) for p in compiler_params(posting)]


def test_insert_sql_of_several_rows_is_compiled_once_with_djangos_parameters(db):
    """Several rows: on PostgreSQL Django writes `INSERT ... SELECT * FROM UNNEST(...)` with one
    array per column; the compiled path gives the same parameters (and the rows go in)."""
    from django.db.models.sql import InsertQuery

    from loyalty.models import Posting

    at = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)

    def postings(tag: str) -> list[Posting]:
        return [
            Posting(
                actor_kind="api",
                actor_label="key",
                member_id=7,
                kind=kind,
                points=points,
                created_at=at,
                effective_at=at,
                available_at=at + dt.timedelta(days=points),
                expires_at=None if points < 5 else at + dt.timedelta(days=400),
                source_type="order",
                source_id=f"O-{tag}",
                campaign_code=code,
                idempotency_key=f"order:O-{tag}:{kind}:{code}",
                description=f"Order O-{tag}",
            )
            for kind, points, code in (("earn", 12, ""), ("campaign_bonus", 3, "double"))
        ]

    fields = [f for f in Posting._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(Posting)
    query.insert_values(fields, postings("b"))
    [(django_sql, django_params)] = query.get_compiler(connection=connection).as_sql()

    insert_sql(Posting, postings("a"), connection=connection)  # compiles
    sql, params = insert_sql(Posting, postings("b"), connection=connection)  # the compiled path

    assert sql == django_sql
    assert params == list(django_params)
    assert [type(p) for p in params] == [type(p) for p in django_params]


def _compiler_params(model, obj) -> list:
    from django.db.models.sql import InsertQuery

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(model)
    query.insert_values(fields, [obj])
    [(_sql, params)] = query.get_compiler(connection=connection).as_sql()
    return list(params)


@pytest.mark.filterwarnings("ignore:DateTimeField Order.placed_at received a naive datetime")
@pytest.mark.parametrize(
    ("placed_at", "total"),
    [
        (dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC), Decimal("12.50")),
        # what the fast preparers leave to Django: a naive time, a float, a string amount
        (dt.datetime(2026, 3, 1, 12, 30), 12.5),
        (dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC), "12.50"),
    ],
)
def test_insert_sql_prepares_orders_as_djangos_compiler_does(placed_at, total):
    from loyalty.models import Order

    order = Order(
        order_id="O-9",
        member_id=7,
        placed_at=placed_at,
        currency="GBP",
        total=total,
        eligible_total=None,
        exchange_rate=Decimal("1"),
        eligible_amount=Decimal("12.50"),
        items=[{"sku": "A", "quantity": 2}],
        channel="web",
        points_base=12,
        points_tier_bonus=0,
        tier_code="",
        fingerprint="f" * 64,
        source="api",
        created_at=dt.datetime(2026, 3, 1, 12, 31, tzinfo=dt.UTC),
    )
    insert_sql(Order, [order], connection=connection)  # compiles
    _sql, params = insert_sql(Order, [order], connection=connection)  # the compiled path
    expected = _compiler_params(Order, order)

    assert [type(p) for p in params] == [type(p) for p in expected]
    # JSON adapters compare by identity: compare what they wrap
    assert [getattr(p, "obj", p) for p in params] == [getattr(p, "obj", p) for p in expected]


@pytest.mark.postgres
def test_prepared_statements_keep_one_generic_plan_each():
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
