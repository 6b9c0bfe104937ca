"""Every SQL statement of the PostgreSQL driver, parametrized and named.

Statements are templates over ``{s}``, the quoted schema of one namespace (see
:mod:`taskcore_postgres.schema`); :class:`Queries` renders them once per backend. Values always
travel as ``$n`` parameters, never in the SQL text. Each statement is one atomic unit of the
Backend protocol: data-modifying CTEs make a multi-step change one statement, one round trip
and one commit (the reference design, parts 4.1-4.8). asyncpg prepares each statement once per
connection and caches it.

Clocks: resque data (delayed timestamps, ping/started times, run_at) comes from the caller's
``now``; lock expiry uses the database clock ``now()``.
"""

from __future__ import annotations

__all__ = ["Queries"]

# The counter shard a connection writes: stable per connection, spread across connections.
_SHARD = "(pg_backend_pid() % 16)::smallint"

_BUMP_COUNTERS = "ON CONFLICT (name, shard) DO UPDATE SET value = c.value + EXCLUDED.value"

# An expired lock row reads as absent everywhere.
_LIVE = "(expires_at IS NULL OR expires_at > now())"


class Queries:
    """The driver's SQL, rendered for one schema. Upper-case attributes are statements."""

    # ------------------------------------------------------------------ queues

    # $1 queue, $2 payload, $3 notify channel
    PUSH_TAIL = """
        WITH known AS (INSERT INTO {s}.tc_queues (name) VALUES ($1) ON CONFLICT DO NOTHING),
             job AS (INSERT INTO {s}.tc_jobs (queue, payload) VALUES ($1, $2))
        SELECT pg_notify($3, $1)"""

    # $1 queue, $2 payload, $3 notify channel, $4 head sequence (qualified name)
    PUSH_HEAD = """
        WITH known AS (INSERT INTO {s}.tc_queues (name) VALUES ($1) ON CONFLICT DO NOTHING),
             job AS (INSERT INTO {s}.tc_jobs (queue, id, payload)
                     VALUES ($1, -nextval($4::text::regclass), $2))
        SELECT pg_notify($3, $1)"""

    QUEUE_LENGTH = "SELECT count(*) FROM {s}.tc_jobs WHERE queue = $1"

    # $1 queue, $2 offset, $3 limit (NULL = to the end)
    QUEUE_SLICE = """
        SELECT payload FROM {s}.tc_jobs WHERE queue = $1 ORDER BY id OFFSET $2 LIMIT $3"""

    # $1 queue, $2 start, $3 stop: LRANGE with negative indices, on one snapshot.
    QUEUE_RANGE = """
        WITH n AS (SELECT count(*) AS n FROM {s}.tc_jobs WHERE queue = $1),
             b AS (SELECT CASE WHEN $2::bigint < 0 THEN greatest(n + $2, 0) ELSE $2 END AS lo,
                          CASE WHEN $3::bigint < 0 THEN n + $3 ELSE least($3, n - 1) END AS hi
                   FROM n)
        SELECT payload FROM {s}.tc_jobs WHERE queue = $1 ORDER BY id
        OFFSET (SELECT lo FROM b) LIMIT (SELECT greatest(hi - lo + 1, 0) FROM b)"""

    # $1 queue, $2 payload, $3 how many (NULL = all). Rows a reserver holds are skipped: they
    # are leaving the queue anyway.
    REMOVE_FROM_HEAD = """
        WITH gone AS (
            DELETE FROM {s}.tc_jobs WHERE queue = $1 AND id IN (
                SELECT id FROM {s}.tc_jobs WHERE queue = $1 AND payload = $2
                ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING 1)
        SELECT count(*) FROM gone"""

    REMOVE_FROM_TAIL = """
        WITH gone AS (
            DELETE FROM {s}.tc_jobs WHERE queue = $1 AND id IN (
                SELECT id FROM {s}.tc_jobs WHERE queue = $1 AND payload = $2
                ORDER BY id DESC LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING 1)
        SELECT count(*) FROM gone"""

    LIST_QUEUES = 'SELECT name FROM {s}.tc_queues ORDER BY name COLLATE "C"'

    DELETE_QUEUE = """
        WITH gone AS (DELETE FROM {s}.tc_jobs WHERE queue = $1 RETURNING 1),
             known AS (DELETE FROM {s}.tc_queues WHERE name = $1)
        SELECT count(*) FROM gone"""

    # ------------------------------------------------------------------ worker cycle
    # Reserve statements are generated per number of queues (see reserve()/complete_and_reserve).

    # $1 member, $2 counter names to bump by 1, $3 failure record or NULL
    COMPLETE = (
        """
        WITH cur AS (UPDATE {s}.tc_workers
                     SET job_queue = NULL, job_payload = NULL, job_run_at = NULL
                     WHERE member = $1),
             failed AS (INSERT INTO {s}.tc_failures (body)
                        SELECT $3::text WHERE $3::text IS NOT NULL),
             counted AS (INSERT INTO {s}.tc_counters AS c (name, shard, value)
                         SELECT n, """
        + _SHARD
        + """, 1 FROM unnest($2::text[]) AS n
                         """
        + _BUMP_COUNTERS
        + """)
        SELECT 1"""
    )

    # ------------------------------------------------------------------ delayed jobs

    # $1 ts, $2 queue, $3 payload, $4 sha256(payload). No row back = already scheduled then.
    SCHEDULE = """
        INSERT INTO {s}.tc_delayed (ts, queue, payload, digest) VALUES ($1, $2, $3, $4)
        ON CONFLICT (digest, ts) DO NOTHING RETURNING id"""

    # $1 due bound (whole seconds), $2 limit, $3 notify channel. Exactly once: concurrent
    # promoters skip each other's locked rows. Moved jobs keep (ts, id) order in the queues.
    PROMOTE_DUE = """
        WITH due AS (
                 DELETE FROM {s}.tc_delayed WHERE id IN (
                     SELECT id FROM {s}.tc_delayed WHERE ts <= $1 ORDER BY ts, id LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 RETURNING id, ts, queue, payload),
             known AS (INSERT INTO {s}.tc_queues (name) SELECT DISTINCT queue FROM due
                       ON CONFLICT DO NOTHING),
             moved AS (INSERT INTO {s}.tc_jobs (queue, payload)
                       SELECT queue, payload FROM due ORDER BY ts, id),
             woken AS (SELECT count(pg_notify($3, queue)) AS n
                       FROM (SELECT DISTINCT queue FROM due) AS q)
        SELECT due.ts, due.queue, due.payload FROM due CROSS JOIN woken ORDER BY due.ts, due.id"""

    DELAYED_TIMESTAMPS = "SELECT DISTINCT ts FROM {s}.tc_delayed ORDER BY ts"

    DELAYED_AT = "SELECT payload FROM {s}.tc_delayed WHERE ts = $1 ORDER BY id"

    # $1 sha256(payload), $2 payload
    SCHEDULED_AT = """
        SELECT ts FROM {s}.tc_delayed WHERE digest = $1 AND payload = $2 ORDER BY ts"""

    REMOVE_DELAYED = """
        WITH gone AS (DELETE FROM {s}.tc_delayed WHERE digest = $1 AND payload = $2
                      RETURNING ts)
        SELECT ts FROM gone ORDER BY ts"""

    # ------------------------------------------------------------------ locks

    # $1 name, $2 value, $3 ttl seconds. A row back = acquired (absent, or expired and replaced).
    ACQUIRE_LOCK = """
        INSERT INTO {s}.tc_locks AS l (name, value, expires_at)
        VALUES ($1, $2, now() + $3::bigint * interval '1 second')
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
        WHERE l.expires_at IS NOT NULL AND l.expires_at <= now()
        RETURNING true"""

    # $1 name, $2 value, $3 ttl seconds or NULL (no expiry)
    SET_LOCK = """
        INSERT INTO {s}.tc_locks AS l (name, value, expires_at)
        VALUES ($1, $2, now() + $3::bigint * interval '1 second')
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at"""

    RENEW_LOCK = (
        """
        UPDATE {s}.tc_locks SET expires_at = now() + $3::bigint * interval '1 second'
        WHERE name = $1 AND value = $2 AND """
        + _LIVE
        + """
        RETURNING true"""
    )

    # $1 name, $2 value or NULL (any). Expired rows are deleted but do not count.
    RELEASE_LOCK = (
        """
        WITH gone AS (DELETE FROM {s}.tc_locks WHERE name = $1 AND ($2::text IS NULL OR value = $2)
                      RETURNING expires_at)
        SELECT count(*) FROM gone WHERE """
        + _LIVE
    )

    GET_LOCK = "SELECT value FROM {s}.tc_locks WHERE name = $1 AND " + _LIVE

    # Whole seconds left, rounded half up as Redis TTL does; NULL seconds = no expiry.
    LOCK_TTL = (
        """
        SELECT floor(extract(epoch FROM expires_at - now()) + 0.5)::bigint
        FROM {s}.tc_locks WHERE name = $1 AND """
        + _LIVE
    )

    # $1 LIKE pattern (escaped prefix + '%')
    LIST_LOCKS = (
        """
        SELECT name, value FROM {s}.tc_locks WHERE name LIKE $1 ESCAPE '\\' AND """
        + _LIVE
        + ' ORDER BY name COLLATE "C"'
    )

    # $1 name, $2 ttl seconds. Absent or expired counts as -1, so the first call returns 0.
    INCREMENT_LOCK = """
        INSERT INTO {s}.tc_locks AS l (name, value, expires_at)
        VALUES ($1, '0', now() + $2::bigint * interval '1 second')
        ON CONFLICT (name) DO UPDATE SET
            value = CASE WHEN l.expires_at IS NOT NULL AND l.expires_at <= now() THEN '0'
                         ELSE (l.value::bigint + 1)::text END,
            expires_at = EXCLUDED.expires_at
        RETURNING value::bigint"""

    SWEEP_LOCKS = "DELETE FROM {s}.tc_locks WHERE expires_at <= now()"

    # ------------------------------------------------------------------ workers

    # $1 member, $2 name, $3 queues[], $4 time (whole seconds), $5 queues joined with ","
    REGISTER_WORKER = """
        WITH w AS (INSERT INTO {s}.tc_workers (member, name, queues, registered, started)
                   VALUES ($1, $2, $3, true, $4)
                   ON CONFLICT (member) DO UPDATE
                   SET registered = true, started = EXCLUDED.started, queues = EXCLUDED.queues)
        INSERT INTO {s}.tc_pings (name, queues, time) VALUES ($2, $5, $4)
        ON CONFLICT (name) DO UPDATE SET queues = EXCLUDED.queues, time = EXCLUDED.time"""

    # $1 name, $2 queues joined with ",", $3 time (whole seconds)
    PING_WORKER = """
        INSERT INTO {s}.tc_pings (name, queues, time) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET queues = EXCLUDED.queues, time = EXCLUDED.time"""

    LIST_WORKERS = """
        SELECT name, queues FROM {s}.tc_workers WHERE registered ORDER BY member COLLATE "C" """

    WORKER_STARTED = "SELECT started FROM {s}.tc_workers WHERE member = $1 AND registered"

    CURRENT_JOB = """
        SELECT job_queue, job_payload, job_run_at FROM {s}.tc_workers
        WHERE member = $1 AND job_payload IS NOT NULL"""

    CURRENT_JOBS = """
        SELECT name, queues, job_queue, job_payload, job_run_at FROM {s}.tc_workers
        WHERE registered ORDER BY member COLLATE "C" """

    WORKER_PINGS = 'SELECT name, queues, time FROM {s}.tc_pings ORDER BY name COLLATE "C"'

    # Step 1 of clean_worker (inside its transaction): lock the worker's rows.
    CLEAN_WORKER_LOCK = """
        SELECT name, queues, job_queue, job_payload, job_run_at FROM {s}.tc_workers
        WHERE name = $1 ORDER BY member COLLATE "C" FOR UPDATE"""

    # Step 2: $1 name, $2 failure records (in order). Deletes every trace, appends failures.
    CLEAN_WORKER_APPLY = (
        """
        WITH workers AS (DELETE FROM {s}.tc_workers WHERE name = $1),
             pings AS (DELETE FROM {s}.tc_pings WHERE name = $1),
             own AS (DELETE FROM {s}.tc_counters
                     WHERE name IN ('processed:' || $1, 'failed:' || $1)),
             failed AS (INSERT INTO {s}.tc_failures (body)
                        SELECT body FROM unnest($2::text[]) WITH ORDINALITY AS f (body, n)
                        ORDER BY n),
             counted AS (INSERT INTO {s}.tc_counters AS c (name, shard, value)
                         SELECT 'failed', """
        + _SHARD
        + """, cardinality($2::text[])
                         WHERE cardinality($2::text[]) > 0
                         """
        + _BUMP_COUNTERS
        + """)
        SELECT 1"""
    )

    # ------------------------------------------------------------------ stats and failures

    # $1 names, $2 deltas (same length, names unique)
    INCREMENT_STATS = (
        """
        INSERT INTO {s}.tc_counters AS c (name, shard, value)
        SELECT n, """
        + _SHARD
        + """, d FROM unnest($1::text[], $2::bigint[]) AS t (n, d)
        """
        + _BUMP_COUNTERS
    )

    STATS = "SELECT name, sum(value)::bigint FROM {s}.tc_counters GROUP BY name"

    PUSH_FAILURE = "INSERT INTO {s}.tc_failures (body) VALUES ($1)"

    FAILURE_COUNT = "SELECT count(*) FROM {s}.tc_failures"

    # $1 offset, $2 limit (NULL = to the end)
    FAILURES_SLICE = "SELECT body FROM {s}.tc_failures ORDER BY id OFFSET $1 LIMIT $2"

    FAILURES_RANGE = """
        WITH n AS (SELECT count(*) AS n FROM {s}.tc_failures),
             b AS (SELECT CASE WHEN $1::bigint < 0 THEN greatest(n + $1, 0) ELSE $1 END AS lo,
                          CASE WHEN $2::bigint < 0 THEN n + $2 ELSE least($2, n - 1) END AS hi
                   FROM n)
        SELECT body FROM {s}.tc_failures ORDER BY id
        OFFSET (SELECT lo FROM b) LIMIT (SELECT greatest(hi - lo + 1, 0) FROM b)"""

    _FIRST_FAILURE = """
        SELECT id FROM {s}.tc_failures WHERE digest = decode(md5($1), 'hex') AND body = $1
        ORDER BY id LIMIT 1 FOR UPDATE"""

    REMOVE_FAILURE = (
        """
        WITH gone AS (DELETE FROM {s}.tc_failures WHERE id = ("""
        + _FIRST_FAILURE
        + """) RETURNING 1)
        SELECT count(*) FROM gone"""
    )

    # $1 record, $2 queue, $3 payload, $4 notify channel. One row back = retried.
    RETRY_FAILURE = (
        """
        WITH gone AS (DELETE FROM {s}.tc_failures WHERE id = ("""
        + _FIRST_FAILURE
        + """) RETURNING 1),
             known AS (INSERT INTO {s}.tc_queues (name) SELECT $2 FROM gone
                       ON CONFLICT DO NOTHING),
             job AS (INSERT INTO {s}.tc_jobs (queue, payload) SELECT $2, $3 FROM gone)
        SELECT pg_notify($4, $2) FROM gone"""
    )

    # ------------------------------------------------------------------ maintenance

    # A multi-statement simple query runs as one implicit transaction.
    FLUSH = """
        DELETE FROM {s}.tc_jobs; DELETE FROM {s}.tc_queues; DELETE FROM {s}.tc_delayed;
        DELETE FROM {s}.tc_workers; DELETE FROM {s}.tc_pings; DELETE FROM {s}.tc_counters;
        DELETE FROM {s}.tc_locks; DELETE FROM {s}.tc_failures"""

    PING = "SELECT 1"

    def __init__(self, quoted_schema: str) -> None:
        self.schema = quoted_schema
        for name, template in vars(Queries).items():
            if name.isupper() and isinstance(template, str):
                setattr(self, name, template.format(s=quoted_schema))
        self._reserve: dict[tuple[int, bool], str] = {}

    def reserve(self, queue_count: int, *, complete_first: bool) -> str:
        """The reserve statement for ``queue_count`` queues, cached per (count, variant).

        Parameters: ``$1`` member, ``$2`` worker name, ``$3`` worker queues (text[]), ``$4``
        run_at; with ``complete_first`` also ``$5`` counter names to bump and ``$6`` the
        failure record (or NULL); then one parameter per queue, in priority order.

        One statement: per queue ``(SELECT .. ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)``
        branches under ``UNION ALL .. LIMIT 1`` (branches after the first hit never run), the
        DELETE .. RETURNING of the chosen job, and one upsert of the worker's current-job
        columns (a row is created when the worker never registered, so the job is never only
        in memory). Rows: ``(queue, payload, NULL)`` for a reserved job, otherwise one
        ``(NULL, NULL, retry)`` row where ``retry`` says jobs were visible but all skipped or
        raced away, so an immediate second attempt may succeed.
        """
        key = (queue_count, complete_first)
        cached = self._reserve.get(key)
        if cached is not None:
            return cached
        s = self.schema
        first = 7 if complete_first else 5
        params = [f"${first + i}" for i in range(queue_count)]
        branches = "\n              UNION ALL\n              ".join(
            f"SELECT * FROM (SELECT queue, id FROM {s}.tc_jobs WHERE queue = {p} "
            f"ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) AS q{i}"
            for i, p in enumerate(params)
        )
        parts = []
        if complete_first:
            parts.append(
                f"failed AS (INSERT INTO {s}.tc_failures (body) "
                "SELECT $6::text WHERE $6::text IS NOT NULL)"
            )
            parts.append(
                f"counted AS (INSERT INTO {s}.tc_counters AS c (name, shard, value) "
                f"SELECT n, {_SHARD}, 1 FROM unnest($5::text[]) AS n {_BUMP_COUNTERS})"
            )
        parts.append(f"pick AS (\n              {branches}\n              LIMIT 1)")
        parts.append(
            f"job AS (DELETE FROM {s}.tc_jobs AS j USING pick "
            "WHERE j.queue = pick.queue AND j.id = pick.id RETURNING j.queue, j.payload)"
        )
        upsert = (
            f"INSERT INTO {s}.tc_workers AS w "
            "(member, name, queues, registered, job_queue, job_payload, job_run_at) "
        )
        on_conflict = (
            " ON CONFLICT (member) DO UPDATE SET job_queue = EXCLUDED.job_queue, "
            "job_payload = EXCLUDED.job_payload, job_run_at = EXCLUDED.job_run_at"
        )
        if complete_first:
            # One upsert both clears the finished job and records the next: a row cannot be
            # updated twice in one statement.
            parts.append(
                f"cur AS ({upsert}"
                "SELECT $1, $2, $3::text[], false, job.queue, job.payload, "
                "CASE WHEN job.queue IS NULL THEN NULL ELSE $4::text END "
                "FROM (SELECT 1) AS one LEFT JOIN job ON true "
                f"WHERE job.queue IS NOT NULL OR EXISTS "
                f"(SELECT 1 FROM {s}.tc_workers WHERE member = $1){on_conflict})"
            )
        else:
            parts.append(
                f"cur AS ({upsert}"
                f"SELECT $1, $2, $3::text[], false, queue, payload, $4::text FROM job{on_conflict})"
            )
        sql = (
            "WITH "
            + ",\n     ".join(parts)
            + "\nSELECT queue, payload, NULL::boolean AS retry FROM job"
            + "\nUNION ALL"
            + f"\nSELECT NULL, NULL, EXISTS (SELECT 1 FROM {s}.tc_jobs "
            + f"WHERE queue IN ({', '.join(params)}))"
            + "\nWHERE NOT EXISTS (SELECT 1 FROM job)"
        )
        self._reserve[key] = sql
        return sql
