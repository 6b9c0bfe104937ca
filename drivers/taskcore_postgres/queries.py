"""Every SQL statement of the PostgreSQL driver, parametrized and named.

Statements are templates over ``{s}``, the quoted PostgreSQL schema holding the tables (see
:mod:`taskcore_postgres.schema`); :class:`Queries` renders them once per backend. Values always
travel as ``$n`` parameters, never in the SQL text, and ``$1`` is always the namespace. Each
statement is one atomic unit of the Backend protocol: data-modifying CTEs make a multi-step
change one statement, one round trip and one commit (the reference design, parts 4.1-4.8).
asyncpg prepares each statement once per connection and caches it.

Clocks: resque data (delayed timestamps, ping/started times, run_at) comes from the caller's
``now`` (the engine takes it from a StorageClock, i.e. ``SERVER_TIME`` plus local elapsed
time); lock expiry uses the database clock ``now()``.
"""

from __future__ import annotations

from taskcore_postgres.reserve_sql import BUMP as _BUMP
from taskcore_postgres.reserve_sql import SHARD as _SHARD
from taskcore_postgres.reserve_sql import reserve_many_statement, reserve_statement

__all__ = ["Queries"]

# An expired lock row reads as absent everywhere.
_LIVE = "(expires_at IS NULL OR expires_at > now())"

# The first failure equal to $2 (byte for byte), locked against a concurrent remover.
_FIRST_FAILURE = """
    SELECT id FROM {s}.tc_failures
    WHERE ns = $1 AND digest = decode(md5($2), 'hex') AND body = $2
    ORDER BY id LIMIT 1 FOR UPDATE"""


class Queries:
    """The driver's SQL, rendered for one schema. Upper-case attributes are statements."""

    # ------------------------------------------------------------------ queues

    # $2 queue, $3 payload, $4 notify channel
    PUSH_TAIL = """
        WITH known AS (INSERT INTO {s}.tc_queues (ns, name) VALUES ($1, $2)
                       ON CONFLICT DO NOTHING),
             job AS (INSERT INTO {s}.tc_jobs (ns, queue, payload) VALUES ($1, $2, $3))
        SELECT pg_notify($4, $2)"""

    # $2 queue, $3 payload, $4 notify channel, $5 head sequence (qualified name)
    PUSH_HEAD = """
        WITH known AS (INSERT INTO {s}.tc_queues (ns, name) VALUES ($1, $2)
                       ON CONFLICT DO NOTHING),
             job AS (INSERT INTO {s}.tc_jobs (ns, queue, id, payload)
                     VALUES ($1, $2, -nextval($5::text::regclass), $3))
        SELECT pg_notify($4, $2)"""

    # $2 queues, $3 payloads (same length, in order), $4 notify channel. Ids are drawn in
    # the order given, so each queue keeps the batch's order; one NOTIFY per distinct queue.
    PUSH_MANY = """
        WITH batch AS (SELECT q, p, n FROM unnest($2::text[], $3::text[]) WITH ORDINALITY
                                            AS b (q, p, n)),
             known AS (INSERT INTO {s}.tc_queues (ns, name) SELECT DISTINCT $1, q FROM batch
                       ON CONFLICT DO NOTHING),
             jobs AS (INSERT INTO {s}.tc_jobs (ns, queue, payload)
                      SELECT $1, q, p FROM batch ORDER BY n)
        SELECT count(pg_notify($4, q)) FROM (SELECT DISTINCT q FROM batch) AS woken"""

    QUEUE_LENGTH = "SELECT count(*) FROM {s}.tc_jobs WHERE ns = $1 AND queue = $2"

    # $2 queue, $3 offset, $4 limit (NULL = to the end)
    QUEUE_SLICE = """
        SELECT payload FROM {s}.tc_jobs WHERE ns = $1 AND queue = $2
        ORDER BY id OFFSET $3 LIMIT $4"""

    # $2 queue, $3 start, $4 stop: LRANGE with negative indices, on one snapshot.
    QUEUE_RANGE = """
        WITH n AS (SELECT count(*) AS n FROM {s}.tc_jobs WHERE ns = $1 AND queue = $2),
             b AS (SELECT CASE WHEN $3::bigint < 0 THEN greatest(n + $3, 0) ELSE $3 END AS lo,
                          CASE WHEN $4::bigint < 0 THEN n + $4 ELSE least($4, n - 1) END AS hi
                   FROM n)
        SELECT payload FROM {s}.tc_jobs WHERE ns = $1 AND queue = $2 ORDER BY id
        OFFSET (SELECT lo FROM b) LIMIT (SELECT greatest(hi - lo + 1, 0) FROM b)"""

    # $2 queue, $3 payload, $4 how many (NULL = all). Rows a reserver holds are skipped: they
    # are leaving the queue anyway. Every "LIMIT n FOR UPDATE" selection in this module is a
    # MATERIALIZED CTE: as an IN (...) subquery the planner may rescan it once per outer row
    # (a nested-loop semi join), and each rescan locks and returns a *further* row, so more
    # than n rows go (observed here; Oban guards against the same plan).
    REMOVE_FROM_HEAD = """
        WITH victims AS MATERIALIZED (
                 SELECT id FROM {s}.tc_jobs WHERE ns = $1 AND queue = $2 AND payload = $3
                 ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED),
             gone AS (DELETE FROM {s}.tc_jobs
                      WHERE ns = $1 AND queue = $2 AND id IN (SELECT id FROM victims)
                      RETURNING 1)
        SELECT count(*) FROM gone"""

    REMOVE_FROM_TAIL = """
        WITH victims AS MATERIALIZED (
                 SELECT id FROM {s}.tc_jobs WHERE ns = $1 AND queue = $2 AND payload = $3
                 ORDER BY id DESC LIMIT $4 FOR UPDATE SKIP LOCKED),
             gone AS (DELETE FROM {s}.tc_jobs
                      WHERE ns = $1 AND queue = $2 AND id IN (SELECT id FROM victims)
                      RETURNING 1)
        SELECT count(*) FROM gone"""

    # COLLATE "C": code-point order, the order Python's sorted() gives the other drivers.
    LIST_QUEUES = 'SELECT name FROM {s}.tc_queues WHERE ns = $1 ORDER BY name COLLATE "C"'

    # $2 up to how many known queues all are listed. Past it, a loose index scan of the jobs'
    # primary key (ns, queue, id): one probe per queue that holds jobs, however many queues
    # are known or jobs wait.
    QUEUES_WITH_JOBS = """
        WITH RECURSIVE known AS (SELECT count(*) AS n FROM {s}.tc_queues WHERE ns = $1),
             q (name) AS (
                 (SELECT queue FROM {s}.tc_jobs
                  WHERE ns = $1 AND (SELECT n FROM known) > $2 ORDER BY queue LIMIT 1)
                 UNION ALL
                 SELECT (SELECT queue FROM {s}.tc_jobs WHERE ns = $1 AND queue > q.name
                         ORDER BY queue LIMIT 1)
                 FROM q WHERE q.name IS NOT NULL)
        SELECT name FROM (
            SELECT name FROM q WHERE name IS NOT NULL
            UNION ALL
            SELECT name FROM {s}.tc_queues WHERE ns = $1 AND (SELECT n FROM known) <= $2
        ) AS listed ORDER BY name COLLATE "C\""""

    DELETE_QUEUE = """
        WITH gone AS (DELETE FROM {s}.tc_jobs WHERE ns = $1 AND queue = $2 RETURNING 1),
             known AS (DELETE FROM {s}.tc_queues WHERE ns = $1 AND name = $2)
        SELECT count(*) FROM gone"""

    # ------------------------------------------------------------------ worker cycle
    # RESERVE, COMPLETE_AND_RESERVE and RESERVE_MANY are rendered per schema: see
    # taskcore_postgres.reserve_sql.

    # $2 member key, $3 counter names to bump by 1, $4 failure record or NULL
    COMPLETE = f"""
        WITH cur AS (UPDATE {{s}}.tc_workers
                     SET job_queue = NULL, job_payload = NULL, job_run_at = NULL
                     WHERE ns = $1 AND member_key = $2),
             failed AS (INSERT INTO {{s}}.tc_failures (ns, body)
                        SELECT $1, $4::text WHERE $4::text IS NOT NULL),
             counted AS (INSERT INTO {{s}}.tc_counters AS c (ns, name, shard, value)
                         SELECT $1, n, {_SHARD}, 1 FROM unnest($3::text[]) AS n {_BUMP})
        SELECT 1"""

    # ------------------------------------------------------------------ delayed jobs

    # $2 ts, $3 queue, $4 payload, $5 sha256(payload). No row back = already scheduled then.
    SCHEDULE = """
        INSERT INTO {s}.tc_delayed (ns, ts, queue, payload, digest) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (ns, digest, ts) DO NOTHING RETURNING id"""

    # $2 due bound (whole seconds: floor(now - 0.5), never early), $3 limit, $4 notify
    # channel. Exactly once: concurrent promoters skip each other's locked rows. Moved jobs
    # keep (ts, id) order in the queues.
    PROMOTE_DUE = """
        WITH picked AS MATERIALIZED (
                 SELECT id FROM {s}.tc_delayed WHERE ns = $1 AND ts <= $2
                 ORDER BY ts, id LIMIT $3 FOR UPDATE SKIP LOCKED),
             due AS (
                 DELETE FROM {s}.tc_delayed WHERE ns = $1 AND id IN (SELECT id FROM picked)
                 RETURNING id, ts, queue, payload),
             known AS (INSERT INTO {s}.tc_queues (ns, name) SELECT DISTINCT $1, queue FROM due
                       ON CONFLICT DO NOTHING),
             moved AS (INSERT INTO {s}.tc_jobs (ns, queue, payload)
                       SELECT $1, queue, payload FROM due ORDER BY ts, id),
             woken AS (SELECT count(pg_notify($4, queue)) AS n
                       FROM (SELECT DISTINCT queue FROM due) AS q)
        SELECT due.ts, due.queue, due.payload FROM due CROSS JOIN woken ORDER BY due.ts, due.id"""

    DELAYED_TIMESTAMPS = "SELECT DISTINCT ts FROM {s}.tc_delayed WHERE ns = $1 ORDER BY ts"

    # $2 exclusive lower bound (NULL: from the first), $3 limit. A loose index scan over
    # (ns, ts, id): one index probe per distinct second returned, however many jobs each holds.
    _SECONDS_PAGE = """
        WITH RECURSIVE page (ts, n) AS (
            (SELECT ts, 1 FROM {s}.tc_delayed
             WHERE ns = $1 AND ts > coalesce($2::bigint, -9223372036854775808)
             ORDER BY ts LIMIT 1)
            UNION ALL
            SELECT nxt.ts, page.n + 1 FROM page CROSS JOIN LATERAL (
                SELECT ts FROM {s}.tc_delayed WHERE ns = $1 AND ts > page.ts
                ORDER BY ts LIMIT 1) AS nxt
            WHERE page.n < $3)"""

    DELAYED_TIMESTAMPS_PAGE = (
        _SECONDS_PAGE
        + """
        SELECT ts FROM page ORDER BY ts"""
    )

    # As DELAYED_TIMESTAMPS_PAGE, with each second's payloads in scheduling order.
    DELAYED_PAGE = (
        _SECONDS_PAGE
        + """
        SELECT d.ts, d.payload FROM page
        JOIN {s}.tc_delayed AS d ON d.ns = $1 AND d.ts = page.ts ORDER BY d.ts, d.id"""
    )

    DELAYED_AT = "SELECT payload FROM {s}.tc_delayed WHERE ns = $1 AND ts = $2 ORDER BY id"

    # $2 sha256(payload), $3 payload
    SCHEDULED_AT = """
        SELECT ts FROM {s}.tc_delayed WHERE ns = $1 AND digest = $2 AND payload = $3
        ORDER BY ts"""

    REMOVE_DELAYED = """
        WITH gone AS (DELETE FROM {s}.tc_delayed
                      WHERE ns = $1 AND digest = $2 AND payload = $3 RETURNING ts)
        SELECT ts FROM gone ORDER BY ts"""

    # $2 ts. Returns the payloads removed, in scheduling order. Rows a concurrent promote_due
    # has locked are waited for (not skipped), so each job is either promoted or removed here.
    REMOVE_DELAYED_AT = """
        WITH gone AS (DELETE FROM {s}.tc_delayed WHERE ns = $1 AND ts = $2
                      RETURNING id, payload)
        SELECT payload FROM gone ORDER BY id"""

    # ------------------------------------------------------------------ locks

    # $2 name, $3 value, $4 ttl seconds. A row back = acquired (absent, or expired and
    # replaced).
    ACQUIRE_LOCK = """
        INSERT INTO {s}.tc_locks AS l (ns, name, value, expires_at)
        VALUES ($1, $2, $3, now() + $4::bigint * interval '1 second')
        ON CONFLICT (ns, name) DO UPDATE
        SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
        WHERE l.expires_at IS NOT NULL AND l.expires_at <= now()
        RETURNING true"""

    # $2 name, $3 value, $4 ttl seconds or NULL (no expiry)
    SET_LOCK = """
        INSERT INTO {s}.tc_locks AS l (ns, name, value, expires_at)
        VALUES ($1, $2, $3, now() + $4::bigint * interval '1 second')
        ON CONFLICT (ns, name) DO UPDATE
        SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at"""

    RENEW_LOCK = f"""
        UPDATE {{s}}.tc_locks SET expires_at = now() + $4::bigint * interval '1 second'
        WHERE ns = $1 AND name = $2 AND value = $3 AND {_LIVE}
        RETURNING true"""

    # $2 name, $3 value or NULL (any). Expired rows are deleted but do not count.
    RELEASE_LOCK = f"""
        WITH gone AS (DELETE FROM {{s}}.tc_locks
                      WHERE ns = $1 AND name = $2 AND ($3::text IS NULL OR value = $3)
                      RETURNING expires_at)
        SELECT count(*) FROM gone WHERE {_LIVE}"""

    GET_LOCK = f"SELECT value FROM {{s}}.tc_locks WHERE ns = $1 AND name = $2 AND {_LIVE}"

    # Whole seconds left, rounded half up as Redis TTL does; NULL = no expiry.
    LOCK_TTL = f"""
        SELECT floor(extract(epoch FROM expires_at - now()) + 0.5)::bigint
        FROM {{s}}.tc_locks WHERE ns = $1 AND name = $2 AND {_LIVE}"""

    # $2 LIKE pattern (escaped prefix + '%')
    LIST_LOCKS = f"""
        SELECT name, value FROM {{s}}.tc_locks
        WHERE ns = $1 AND name LIKE $2 ESCAPE '\\' AND {_LIVE} ORDER BY name COLLATE "C" """

    # $2 name, $3 ttl seconds. Absent or expired counts as -1, so the first call returns 0.
    INCREMENT_LOCK = """
        INSERT INTO {s}.tc_locks AS l (ns, name, value, expires_at)
        VALUES ($1, $2, '0', now() + $3::bigint * interval '1 second')
        ON CONFLICT (ns, name) DO UPDATE SET
            value = CASE WHEN l.expires_at IS NOT NULL AND l.expires_at <= now() THEN '0'
                         ELSE (l.value::bigint + 1)::text END,
            expires_at = EXCLUDED.expires_at
        RETURNING value::bigint"""

    SWEEP_LOCKS = "DELETE FROM {s}.tc_locks WHERE ns = $1 AND expires_at <= now()"

    # ------------------------------------------------------------------ workers

    # $2 member, $3 name, $4 queues[], $5 time (whole seconds), $6 queues joined with ",",
    # $7 member key (sha256 of the member)
    REGISTER_WORKER = """
        WITH w AS (INSERT INTO {s}.tc_workers
                       (ns, member_key, member, name, queues, registered, started)
                   VALUES ($1, $7, $2, $3, $4, true, $5)
                   ON CONFLICT (ns, member_key) DO UPDATE
                   SET registered = true, started = EXCLUDED.started, queues = EXCLUDED.queues)
        INSERT INTO {s}.tc_pings (ns, name, queues, time) VALUES ($1, $3, $6, $5)
        ON CONFLICT (ns, name) DO UPDATE SET queues = EXCLUDED.queues, time = EXCLUDED.time"""

    # $2 name, $3 queues joined with ",", $4 time (whole seconds)
    PING_WORKER = """
        INSERT INTO {s}.tc_pings (ns, name, queues, time) VALUES ($1, $2, $3, $4)
        ON CONFLICT (ns, name) DO UPDATE SET queues = EXCLUDED.queues, time = EXCLUDED.time"""

    LIST_WORKERS = """
        SELECT name, queues FROM {s}.tc_workers WHERE ns = $1 AND registered
        ORDER BY member COLLATE "C" """

    # $2 member key
    WORKER_STARTED = """
        SELECT started FROM {s}.tc_workers WHERE ns = $1 AND member_key = $2 AND registered"""

    # $2 member key
    CURRENT_JOB = """
        SELECT job_queue, job_payload, job_run_at FROM {s}.tc_workers
        WHERE ns = $1 AND member_key = $2 AND job_payload IS NOT NULL"""

    CURRENT_JOBS = """
        SELECT name, queues, job_queue, job_payload, job_run_at FROM {s}.tc_workers
        WHERE ns = $1 AND registered ORDER BY member COLLATE "C" """

    WORKER_PINGS = """
        SELECT name, queues, time FROM {s}.tc_pings WHERE ns = $1 ORDER BY name COLLATE "C" """

    REGISTERED_PINGS = """
        SELECT p.name, p.queues, p.time FROM {s}.tc_pings AS p
        WHERE p.ns = $1 AND EXISTS (SELECT 1 FROM {s}.tc_workers AS w
                                    WHERE w.ns = $1 AND w.name = p.name AND w.registered)
        ORDER BY p.name COLLATE "C" """

    # Step 1 of clean_worker (inside its transaction): $2 name; lock the worker's rows.
    CLEAN_WORKER_LOCK = """
        SELECT member_key, name, queues, job_queue, job_payload, job_run_at FROM {s}.tc_workers
        WHERE ns = $1 AND name = $2 ORDER BY member COLLATE "C" FOR UPDATE"""

    # Step 2: $2 name, $3 failure records (in order), $4 the member keys step 1 locked.
    # Deletes every trace, appends failures. Worker rows go by locked member, not by name: a
    # row a same-named worker's reserve committed after step 1 holds a job nobody recorded a
    # failure for, and deleting it would lose that job.
    CLEAN_WORKER_APPLY = f"""
        WITH workers AS (DELETE FROM {{s}}.tc_workers
                         WHERE ns = $1 AND member_key = ANY($4::bytea[])),
             pings AS (DELETE FROM {{s}}.tc_pings WHERE ns = $1 AND name = $2),
             own AS (DELETE FROM {{s}}.tc_counters
                     WHERE ns = $1 AND name IN ('processed:' || $2, 'failed:' || $2)),
             failed AS (INSERT INTO {{s}}.tc_failures (ns, body)
                        SELECT $1, body FROM unnest($3::text[]) WITH ORDINALITY AS f (body, n)
                        ORDER BY n),
             counted AS (INSERT INTO {{s}}.tc_counters AS c (ns, name, shard, value)
                         SELECT $1, 'failed', {_SHARD}, cardinality($3::text[])
                         WHERE cardinality($3::text[]) > 0 {_BUMP})
        SELECT 1"""

    # ------------------------------------------------------------------ stats and failures

    # $2 names, $3 deltas (same length, names unique)
    INCREMENT_STATS = f"""
        INSERT INTO {{s}}.tc_counters AS c (ns, name, shard, value)
        SELECT $1, n, {_SHARD}, d FROM unnest($2::text[], $3::bigint[]) AS t (n, d) {_BUMP}"""

    STATS = "SELECT name, sum(value)::bigint FROM {s}.tc_counters WHERE ns = $1 GROUP BY name"

    PUSH_FAILURE = "INSERT INTO {s}.tc_failures (ns, body) VALUES ($1, $2)"

    FAILURE_COUNT = "SELECT count(*) FROM {s}.tc_failures WHERE ns = $1"

    # $2 offset, $3 limit (NULL = to the end)
    FAILURES_SLICE = """
        SELECT body FROM {s}.tc_failures WHERE ns = $1 ORDER BY id OFFSET $2 LIMIT $3"""

    # $2 the last id seen (exclusive; NULL: from the first), $3 limit: the primary key's order
    FAILURES_AFTER = """
        SELECT id, body FROM {s}.tc_failures
        WHERE ns = $1 AND id > coalesce($2::bigint, 0) ORDER BY id LIMIT $3"""

    FAILURES_RANGE = """
        WITH n AS (SELECT count(*) AS n FROM {s}.tc_failures WHERE ns = $1),
             b AS (SELECT CASE WHEN $2::bigint < 0 THEN greatest(n + $2, 0) ELSE $2 END AS lo,
                          CASE WHEN $3::bigint < 0 THEN n + $3 ELSE least($3, n - 1) END AS hi
                   FROM n)
        SELECT body FROM {s}.tc_failures WHERE ns = $1 ORDER BY id
        OFFSET (SELECT lo FROM b) LIMIT (SELECT greatest(hi - lo + 1, 0) FROM b)"""

    # $2 record
    REMOVE_FAILURE = f"""
        WITH gone AS (DELETE FROM {{s}}.tc_failures
                      WHERE ns = $1 AND id = ({_FIRST_FAILURE}) RETURNING 1)
        SELECT count(*) FROM gone"""

    CLEAR_FAILURES = """
        WITH gone AS (DELETE FROM {s}.tc_failures WHERE ns = $1 RETURNING 1)
        SELECT count(*) FROM gone"""

    # $2 record, $3 queue, $4 payload, $5 notify channel. One row back = retried.
    RETRY_FAILURE = f"""
        WITH gone AS (DELETE FROM {{s}}.tc_failures
                      WHERE ns = $1 AND id = ({_FIRST_FAILURE}) RETURNING 1),
             known AS (INSERT INTO {{s}}.tc_queues (ns, name) SELECT $1, $3 FROM gone
                       ON CONFLICT DO NOTHING),
             job AS (INSERT INTO {{s}}.tc_jobs (ns, queue, payload) SELECT $1, $3, $4 FROM gone)
        SELECT pg_notify($5, $3) FROM gone"""

    # ------------------------------------------------------------------ maintenance

    FLUSH = """
        WITH jobs AS (DELETE FROM {s}.tc_jobs WHERE ns = $1),
             queues AS (DELETE FROM {s}.tc_queues WHERE ns = $1),
             delayed AS (DELETE FROM {s}.tc_delayed WHERE ns = $1),
             workers AS (DELETE FROM {s}.tc_workers WHERE ns = $1),
             pings AS (DELETE FROM {s}.tc_pings WHERE ns = $1),
             counters AS (DELETE FROM {s}.tc_counters WHERE ns = $1),
             locks AS (DELETE FROM {s}.tc_locks WHERE ns = $1),
             failures AS (DELETE FROM {s}.tc_failures WHERE ns = $1)
        SELECT 1"""

    PING = "SELECT 1"

    # The server's clock (not now(): that is the transaction's start), unix seconds.
    SERVER_TIME = "SELECT extract(epoch FROM clock_timestamp())::float8"

    READ_ONLY = frozenset(
        {
            "QUEUE_LENGTH",
            "QUEUE_SLICE",
            "QUEUE_RANGE",
            "LIST_QUEUES",
            "DELAYED_TIMESTAMPS",
            "DELAYED_TIMESTAMPS_PAGE",
            "DELAYED_PAGE",
            "DELAYED_AT",
            "SCHEDULED_AT",
            "GET_LOCK",
            "LOCK_TTL",
            "LIST_LOCKS",
            "LIST_WORKERS",
            "WORKER_STARTED",
            "CURRENT_JOB",
            "QUEUES_WITH_JOBS",
            "CURRENT_JOBS",
            "WORKER_PINGS",
            "REGISTERED_PINGS",
            "STATS",
            "FAILURE_COUNT",
            "FAILURES_SLICE",
            "FAILURES_AFTER",
            "FAILURES_RANGE",
            "PING",
            "SERVER_TIME",
        }
    )
    """Statements that write nothing: safe to run again when the connection died under them."""

    def __init__(self, quoted_schema: str) -> None:
        self.schema = quoted_schema
        self.reads: set[str] = set()
        for name, template in vars(Queries).items():
            if name.isupper() and isinstance(template, str):
                rendered = template.replace("{s}", quoted_schema)
                setattr(self, name, rendered)
                if name in self.READ_ONLY:
                    self.reads.add(rendered)
        self.RESERVE = reserve_statement(quoted_schema, complete_first=False)
        self.COMPLETE_AND_RESERVE = reserve_statement(quoted_schema, complete_first=True)
        self.RESERVE_MANY = reserve_many_statement(quoted_schema)
