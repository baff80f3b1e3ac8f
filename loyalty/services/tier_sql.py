"""The SQL of the daily tier evaluation (`loyalty.services.tier_batches`), portable: PostgreSQL
and SQLite >= 3.33.

Every statement works on the connection's temporary tables: `tier_scope` (the members to look
at; absent: all members), `tier_eval` (what `decide` found to do, one row per member). The
decision is the one `tier_decision` makes for one member (`docs/tiers.md`); the tests compare
the two.
"""

from __future__ import annotations

from django.db import connection

from loyalty.models import Account, MemberTier, Order, Posting, Tier, TierChange
from loyalty.models.ledger import PostingKind
from loyalty.models.program import TierMetric
from loyalty.selectors.tier_metric import Metric, metric_sql
from loyalty.selectors.tiers import DOWN, KEEP, UP
from members.models import Member


class EvaluationSQL:
    """The statements of one evaluation (the plan over many members, then each batch).

    The figure is the ladder's metric (`loyalty.selectors.tier_metric`); for spend,
    thresholds are compared in SQL as `CAST(param AS NUMERIC)` against `ROUND(SUM(...), 2)`:
    exact on PostgreSQL, and on SQLite (which sums decimals as floats) the rounding makes a spend
    of exactly a threshold compare equal to it.
    """

    def __init__(
        self, *, window_op: str, ranks: list[int], scoped: bool, metric: Metric | None = None
    ) -> None:
        metric = metric or Metric(TierMetric.SPEND)
        order = Order._meta.db_table
        member = Member._meta.db_table
        member_tier = MemberTier._meta.db_table
        tier = Tier._meta.db_table
        change = TierChange._meta.db_table
        account = Account._meta.db_table
        # Scoped: the members of `tier_scope` (those with nothing to do fall out at the end).
        # The id bounds keep the orders' index scan to the scope's range of members (else the
        # planner may merge-join from the index's first member on, for every batch).
        in_scope_o = (
            " AND o.member_id IN (SELECT member_id FROM tier_scope)"
            " AND o.member_id >= (SELECT MIN(member_id) FROM tier_scope)"
            " AND o.member_id <= (SELECT MAX(member_id) FROM tier_scope)"
            if scoped
            else ""
        )
        in_scope_mt = (
            " AND mt.member_id >= (SELECT MIN(member_id) FROM tier_scope)"
            " AND mt.member_id <= (SELECT MAX(member_id) FROM tier_scope)"
            if scoped
            else ""
        )
        candidates = (
            "SELECT member_id FROM tier_scope"
            if scoped
            else f"""SELECT member_id FROM spend
                    UNION
                    SELECT mt.member_id FROM {member_tier} mt
                    WHERE mt.qualified_at < %(cutoff)s OR mt.override_until < %(today)s"""
        )

        def target_rank(amount: str) -> str:
            whens = " ".join(
                f"WHEN {amount} >= CAST(%(threshold_{rank})s AS NUMERIC) THEN {rank}"
                for rank in sorted(ranks, reverse=True)
            )
            return f"CASE {whens} ELSE 0 END"

        self.prepare = [
            "DROP TABLE IF EXISTS tier_scope",
            "DROP TABLE IF EXISTS tier_eval",
        ]
        # One statement where the database allows it (PostgreSQL): each is a round trip.
        if connection.vendor == "postgresql":
            self.cleanup_plan = ["DROP TABLE IF EXISTS tier_scope, tier_eval"]
            self.cleanup_batch = ["DROP TABLE tier_scope, tier_eval"]
        else:
            self.cleanup_plan = ["DROP TABLE IF EXISTS tier_scope", "DROP TABLE tier_eval"]
            self.cleanup_batch = ["DROP TABLE tier_scope", "DROP TABLE tier_eval"]
        self.lock_tiers = f"SELECT COUNT(*) FROM (SELECT id FROM {tier} FOR KEY SHARE) t"
        self._account = account
        # The members whose status can have changed since the last run (the incremental run;
        # `docs/tiers.md`): holds ending, overrides lapsing, orders placed since the last run's
        # moment or recorded since it started, tier changes written since it started (but for
        # the last run's own, dated its moment: they leave nobody owed anything as of it).
        # Anyone else has nothing to do (their spend can only have fallen, their tier not).
        self.candidates = f"""SELECT mt.member_id FROM {member_tier} mt
                WHERE mt.qualified_at < %(cutoff)s AND mt.tier_id <> %(entry)s
            UNION SELECT mt.member_id FROM {member_tier} mt WHERE mt.override_until < %(today)s
            UNION SELECT o.member_id FROM {order} o
                WHERE o.placed_at > %(since)s AND o.placed_at <= %(end)s
            UNION SELECT o.member_id FROM {order} o WHERE o.id > %(order_mark)s
            UNION SELECT c.member_id FROM {change} c
                WHERE c.id > %(change_mark)s AND c.at <> %(since)s"""
        if metric.name == TierMetric.GROWTH:
            # Bonuses outside orders raise growth value too (they upgrade at once, as orders).
            self.candidates += f"""
            UNION SELECT p.member_id FROM {Posting._meta.db_table} p
                WHERE p.created_at > %(since)s AND p.kind = '{PostingKind.CAMPAIGN_BONUS}'"""
        # Under the locks: each member's figure (the ladder's metric, `tier_metric.metric_sql`:
        # one aggregate, read once), tier state and the decision (`tier_decision`); only members
        # with something to do are kept. The figure's column is `spend` whatever the metric.
        self.decide = f"""CREATE TEMPORARY TABLE tier_eval AS
            WITH spend AS (
                {metric_sql(metric, window_op=window_op, scope=in_scope_o)}
            )
            SELECT y.*, tt.id AS target_id,
                   CASE WHEN y.target_rank > y.cur_rank THEN '{UP}'
                        WHEN y.cur_rank > 0 AND y.expired = 1 AND y.target_rank < y.cur_rank
                            THEN '{DOWN}'
                        WHEN y.cur_rank > 0 AND y.expired = 1 THEN '{KEEP}'
                        ELSE NULL END AS action
            FROM (
                SELECT c.member_id,
                       COALESCE(s.spend, 0) AS spend,
                       CASE WHEN mt.member_id IS NULL THEN 0 ELSE 1 END AS has_row,
                       COALESCE(mt.tier_id, %(entry)s) AS cur_id,
                       COALESCE(ct.rank, 0) AS cur_rank,
                       {target_rank("COALESCE(s.spend, 0)")} AS target_rank,
                       CASE WHEN mt.qualified_at < %(cutoff)s THEN 1 ELSE 0 END AS expired,
                       CASE WHEN mt.override_until < %(today)s THEN 1 ELSE 0 END AS lapse,
                       mt.override_tier_id, mt.override_reason
                FROM ({candidates}) c
                LEFT JOIN spend s ON s.member_id = c.member_id
                LEFT JOIN {member_tier} mt ON mt.member_id = c.member_id{in_scope_mt}
                LEFT JOIN {tier} ct ON ct.id = mt.tier_id
                WHERE c.member_id NOT IN (SELECT m.id FROM {member} m WHERE m.status = %(erased)s)
            ) y
            LEFT JOIN {tier} tt ON tt.rank = y.target_rank
            WHERE y.target_rank > y.cur_rank OR (y.cur_rank > 0 AND y.expired = 1)
                OR y.lapse = 1"""
        actor_columns = "actor_kind, actor_label, actor_user_id, actor_api_key_id"
        actor_values = (
            "%(actor_actor_kind)s, %(actor_actor_label)s, %(actor_actor_user_id)s, "
            "%(actor_actor_api_key_id)s"
        )
        changed = f"e.action IN ('{UP}', '{DOWN}')"
        # The earned change first, then the lapse (to the tier earned now), as one member's
        # evaluation writes them.
        figure_column = "qualifying_spend" if metric.money else "qualifying_value"
        self.history = f"""INSERT INTO {change} (member_id, from_tier_id, to_tier_id, kind, at,
                {figure_column}, note, created_at, {actor_columns})
            SELECT h.member_id, h.from_id, h.to_id, h.kind, %(at)s, h.spend, h.note, %(created)s,
                   {actor_values}
            FROM (
                SELECT e.member_id, 0 AS seq, e.cur_id AS from_id, e.target_id AS to_id,
                       CASE WHEN e.action = '{UP}' THEN %(up)s ELSE %(down)s END AS kind,
                       e.spend AS spend, 'Tier evaluation' AS note
                FROM tier_eval e WHERE {changed}
                UNION ALL
                SELECT e.member_id, 1, e.override_tier_id,
                       CASE WHEN {changed} THEN e.target_id ELSE e.cur_id END,
                       %(lapsed)s, NULL, SUBSTR('Override ended: ' || e.override_reason, 1, 500)
                FROM tier_eval e WHERE e.lapse = 1
            ) h
            ORDER BY h.member_id, h.seq"""
        # The events of the same rows, in the same order (`tier_events_write`).
        self.events = f"""SELECT h.member_id, m.external_id, h.direction, ft.code, tt.code
            FROM (
                SELECT e.member_id, 0 AS seq, e.action AS direction, e.cur_id AS from_id,
                       e.target_id AS to_id
                FROM tier_eval e WHERE {changed}
                UNION ALL
                SELECT e.member_id, 1, 'lapse', e.override_tier_id,
                       CASE WHEN {changed} THEN e.target_id ELSE e.cur_id END
                FROM tier_eval e WHERE e.lapse = 1
            ) h
            JOIN {member} m ON m.id = h.member_id
            LEFT JOIN {tier} ft ON ft.id = h.from_id
            LEFT JOIN {tier} tt ON tt.id = h.to_id
            ORDER BY h.member_id, h.seq"""
        self.states = [
            f"""UPDATE {member_tier} AS mt SET
                tier_id = CASE WHEN {changed} THEN e.target_id ELSE mt.tier_id END,
                since = CASE WHEN {changed} THEN %(at)s ELSE mt.since END,
                qualified_at = CASE WHEN e.action IS NOT NULL THEN %(at)s ELSE mt.qualified_at END,
                override_tier_id = CASE WHEN e.lapse = 1 THEN NULL ELSE mt.override_tier_id END,
                override_until = CASE WHEN e.lapse = 1 THEN NULL ELSE mt.override_until END,
                override_reason = CASE WHEN e.lapse = 1 THEN '' ELSE mt.override_reason END,
                override_by = CASE WHEN e.lapse = 1 THEN '' ELSE mt.override_by END,
                override_at = CASE WHEN e.lapse = 1 THEN NULL ELSE mt.override_at END
            FROM tier_eval e WHERE e.member_id = mt.member_id AND e.has_row = 1""",
            f"""INSERT INTO {member_tier} (member_id, tier_id, since, qualified_at,
                override_tier_id, override_until, override_reason, override_by, override_at)
            SELECT e.member_id, e.target_id, %(at)s, %(at)s, NULL, NULL, '', '', NULL
            FROM tier_eval e WHERE e.action = '{UP}' AND e.has_row = 0""",
        ]

    def lock_accounts(self, member_ids: list[int], *, skip_locked: bool) -> str:
        """Lock the given members' accounts in key order (like `accounts_lock`), returning the
        ids locked; `skip_locked`: pass over those another transaction holds."""
        ids = ", ".join(str(int(i)) for i in member_ids)
        skip = " SKIP LOCKED" if skip_locked else ""
        return (
            f"SELECT a.member_id FROM {self._account} a WHERE a.member_id IN ({ids}) "
            f"ORDER BY a.member_id FOR UPDATE OF a{skip}"
        )

    SCOPE_CREATE = "CREATE TEMPORARY TABLE tier_scope (member_id bigint PRIMARY KEY)"

    @staticmethod
    def scope_select(member_ids_sql: str) -> str:
        """Fill `tier_scope` from SQL selecting one column of member ids."""
        return f"INSERT INTO tier_scope (member_id) SELECT DISTINCT * FROM ({member_ids_sql}) x"

    @staticmethod
    def scope_values(member_ids: list[int]) -> str:
        """Create `tier_scope` holding the given (distinct) member ids, in one statement (a
        fresh table's size is its estimate: no `ANALYZE` needed for a batch)."""
        values = ", ".join(f"({int(i)})" for i in member_ids)
        return (
            "CREATE TEMPORARY TABLE tier_scope AS "
            f"SELECT CAST(column1 AS bigint) AS member_id FROM (VALUES {values}) v"
        )
