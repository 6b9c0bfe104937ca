"""The worker-cycle statements of the PostgreSQL driver: reserve, complete-and-reserve, and
the same for several workers at once.

A worker's cycle is one statement: the outcome of its last job recorded (counters, failure
record, current job cleared) and its next job reserved and written to its current-job row.
:func:`reserve_statement` does it for one worker (the lighter statement: a call alone);
:func:`reserve_many_statement` for a batch of workers of one process
(:mod:`taskcore_postgres.batch`), one commit for all. Both keep their plan whatever the number
of queues; both register a worker missing from the workers table in the same statement.
"""

from __future__ import annotations

__all__ = ["BUMP", "SHARD", "reserve_many_statement", "reserve_statement"]

SHARD = "(pg_backend_pid() % 16)::smallint"
"""The counter shard a connection writes: stable per connection, spread across connections."""

BUMP = "ON CONFLICT (ns, name, shard) DO UPDATE SET value = c.value + EXCLUDED.value"
"""Adds to a counter row that exists."""


def reserve_statement(s: str, *, complete_first: bool) -> str:
    """The reserve statement (``complete_first``: the complete-and-reserve one) for schema
    ``s``. Its text, hence its plan, is the same whatever the number of queues.

    Parameters: ``$1`` namespace, ``$2`` member, ``$3`` worker name, ``$4`` worker queues
    (text[]), ``$5`` run_at, ``$6`` now in whole seconds, ``$7`` the worker's queues joined with
    ``","``, ``$8`` the member key (sha256 of the member), ``$9`` the queues to reserve from
    (text[], priority order); with ``complete_first`` also ``$10`` counter names to bump and
    ``$11`` the failure record (or NULL).

    One statement: the queue list is unnested in order and, per queue, a lateral
    ``(SELECT .. ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)`` probes its head under
    ``LIMIT 1`` (a nested loop in the array's order: queues after the first hit are never
    probed), then the DELETE .. RETURNING of the chosen job and one upsert of the worker's row.
    A worker whose row is missing or not registered (a scheduler cleaned it while it was alive,
    or it never registered) is registered in the same statement, hit or miss: its row gets
    ``registered``, ``started`` when it had none, and its ping is set to ``$6``; so
    ``clean_worker`` and ``stale_workers`` see whatever it reserves. A registered worker's
    empty reserve writes nothing. Rows: ``(queue, payload, NULL)`` for a reserved job,
    otherwise one ``(NULL, NULL, retry)`` row where ``retry`` says jobs were visible but all
    skipped or raced away, so an immediate second attempt may succeed.
    """
    parts = [
        "absent AS (SELECT NOT EXISTS (SELECT 1 FROM "
        f"{s}.tc_workers WHERE ns = $1 AND member_key = $8 AND registered) AS yes)",
    ]
    if complete_first:
        parts.append(
            f"failed AS (INSERT INTO {s}.tc_failures (ns, body) "
            "SELECT $1, $11::text WHERE $11::text IS NOT NULL)"
        )
        parts.append(
            f"counted AS (INSERT INTO {s}.tc_counters AS c (ns, name, shard, value) "
            f"SELECT $1, n, {SHARD}, 1 FROM unnest($10::text[]) AS n {BUMP})"
        )
    parts.append(
        "pick AS MATERIALIZED (SELECT h.queue, h.id "
        "FROM unnest($9::text[]) WITH ORDINALITY AS q (name, pos) "
        f"CROSS JOIN LATERAL (SELECT queue, id FROM {s}.tc_jobs "
        "WHERE ns = $1 AND queue = q.name ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) AS h "
        "LIMIT 1)"
    )
    parts.append(
        f"job AS (DELETE FROM {s}.tc_jobs AS j USING pick "
        "WHERE j.ns = $1 AND j.queue = pick.queue AND j.id = pick.id "
        "RETURNING j.queue, j.payload)"
    )
    # One upsert records the reserved job, clears the finished one (complete_first: a row
    # cannot be updated twice in one statement) and registers a missing worker. On a miss
    # (EXCLUDED.job_payload NULL) a plain reserve keeps whatever job the row holds.
    if complete_first:
        keep = "EXCLUDED.job_{col}"
        needed = f"OR EXISTS (SELECT 1 FROM {s}.tc_workers WHERE ns = $1 AND member_key = $8)"
    else:
        keep = "CASE WHEN EXCLUDED.job_payload IS NULL THEN w.job_{col} ELSE EXCLUDED.job_{col} END"
        needed = ""
    sets = ", ".join(f"job_{c} = {keep.format(col=c)}" for c in ("queue", "payload", "run_at"))
    parts.append(
        f"cur AS (INSERT INTO {s}.tc_workers AS w (ns, member_key, member, name, queues, "
        "registered, started, job_queue, job_payload, job_run_at) "
        "SELECT $1, $8, $2, $3, $4::text[], true, $6::bigint, job.queue, job.payload, "
        "CASE WHEN job.queue IS NULL THEN NULL ELSE $5::text END "
        "FROM absent LEFT JOIN job ON true "
        f"WHERE job.queue IS NOT NULL OR absent.yes {needed}"
        " ON CONFLICT (ns, member_key) DO UPDATE SET registered = true, "
        f"started = coalesce(w.started, EXCLUDED.started), {sets} "
        "RETURNING (w.xmax = 0) AS inserted)"
    )
    # The ping goes with the registration: when the worker was absent from this statement's
    # snapshot, or when its row was inserted afresh (a clean deleted it while this statement
    # waited for the clean's row lock: without a ping no stuck-worker pass would see its job).
    parts.append(
        f"pinged AS (INSERT INTO {s}.tc_pings (ns, name, queues, time) "
        "SELECT $1, $3, $7, $6 FROM absent "
        "WHERE absent.yes OR EXISTS (SELECT 1 FROM cur WHERE cur.inserted) "
        "ON CONFLICT (ns, name) DO UPDATE SET queues = EXCLUDED.queues, time = EXCLUDED.time)"
    )
    return (
        "WITH "
        + ",\n     ".join(parts)
        + "\nSELECT queue, payload, NULL::boolean AS retry FROM job"
        + "\nUNION ALL"
        + f"\nSELECT NULL, NULL, EXISTS (SELECT 1 FROM {s}.tc_jobs "
        + "WHERE ns = $1 AND queue = ANY($9::text[]))"
        + "\nWHERE NOT EXISTS (SELECT 1 FROM job)"
    )


def reserve_many_statement(s: str) -> str:
    """The reserve statement for schema ``s``: one or more workers of one process, each
    recording the outcome of its last job (if any) and reserving its next one, in one
    statement and one commit. Its text, hence its plan, is the same whatever the number of
    queues and of workers.

    Parameters, one array element per worker (all of the same length): ``$1`` namespace, ``$2``
    member keys (sha256 of the member, bytea[]), ``$3`` members, ``$4`` worker names, ``$5``
    the workers' queues joined with ``","``, ``$6`` run_at, ``$7`` now in whole seconds
    (bigint[]), ``$8`` whether the worker records a finished job (boolean[]), ``$9`` its
    failure record or NULL; then ``$10`` the counter names to bump by 1 (all workers', one
    element per increment), ``$11`` the queues the workers share (text[], for registering) and
    ``$12`` the queues to reserve from (text[], priority order), the same for every worker.

    The queue list is unnested in order and, per queue, a lateral ``(SELECT .. ORDER BY id
    LIMIT n FOR UPDATE SKIP LOCKED)`` takes up to n heads under an outer ``LIMIT n`` (a
    nested loop in the array's order: queues after the n-th hit are never probed, so no
    row is locked and left), n being the number of workers; the k-th job in (queue
    priority, id) order goes to the k-th worker. Then one DELETE .. RETURNING of the chosen
    jobs and the workers' rows written, each row once: a worker that got a job or finished one
    has its current job set (or cleared); a worker whose row is missing or not registered (a
    scheduler cleaned it while it was alive, or it never registered) is registered, hit or
    miss: its row gets ``registered``, ``started`` when it had none, and its ping is set to its
    ``$7``; so ``clean_worker`` and ``stale_workers`` see whatever it reserves. A registered
    worker's empty plain reserve writes nothing, and keeps whatever job its row holds.
    Counters are bumped in name order, so concurrent statements lock shared counter rows in
    one order and cannot deadlock on them.

    Rows: one per worker, in the given order: ``(queue, payload, retry)``, queue and payload
    NULL when it got no job; ``retry`` (the same on every row) says jobs were visible that
    this statement did not take (skipped as locked, or raced away), so an immediate second
    attempt may find one.
    """
    upsert = (
        f"INSERT INTO {s}.tc_workers AS w (ns, member_key, member, name, queues, "
        "registered, started, job_queue, job_payload, job_run_at) "
        "SELECT $1, g.member_key, g.member, g.name, $11::text[], true, g.now_s, "
        "g.job_queue, g.job_payload, CASE WHEN g.job_queue IS NULL THEN NULL ELSE g.run_at END "
        "FROM got AS g WHERE {where} "
        "ON CONFLICT (ns, member_key) DO UPDATE SET registered = true, "
        "started = coalesce(w.started, EXCLUDED.started){sets} "
        "RETURNING w.member_key, (w.xmax = 0) AS inserted"
    )
    job_sets = "".join(f", job_{c} = EXCLUDED.job_{c}" for c in ("queue", "payload", "run_at"))
    parts = [
        "wk AS (SELECT * FROM unnest($2::bytea[], $3::text[], $4::text[], $5::text[], "
        "$6::text[], $7::bigint[], $8::boolean[], $9::text[]) WITH ORDINALITY "
        "AS wk (member_key, member, name, queues_str, run_at, now_s, finishing, failure, i))",
        "absent AS MATERIALIZED (SELECT wk.i FROM wk WHERE NOT EXISTS (SELECT 1 FROM "
        f"{s}.tc_workers AS t WHERE t.ns = $1 AND t.member_key = wk.member_key "
        "AND t.registered))",
        f"failed AS (INSERT INTO {s}.tc_failures (ns, body) "
        "SELECT $1, wk.failure FROM wk WHERE wk.failure IS NOT NULL ORDER BY wk.i)",
        f"counted AS (INSERT INTO {s}.tc_counters AS c (ns, name, shard, value) "
        f"SELECT $1, n, {SHARD}, count(*) FROM unnest($10::text[]) AS n "
        f"GROUP BY n ORDER BY n {BUMP})",
        "pick AS MATERIALIZED (SELECT h.queue, h.id, "
        "row_number() OVER (ORDER BY h.pos, h.id) AS k FROM ("
        "SELECT q.pos, l.queue, l.id FROM unnest($12::text[]) WITH ORDINALITY AS q (name, pos) "
        f"CROSS JOIN LATERAL (SELECT queue, id FROM {s}.tc_jobs "
        "WHERE ns = $1 AND queue = q.name ORDER BY id "
        "LIMIT cardinality($2::bytea[]) FOR UPDATE SKIP LOCKED) AS l "
        "LIMIT cardinality($2::bytea[])) AS h)",
        f"job AS (DELETE FROM {s}.tc_jobs AS j USING pick "
        "WHERE j.ns = $1 AND j.queue = pick.queue AND j.id = pick.id "
        "RETURNING j.queue, j.payload, pick.k)",
        "got AS MATERIALIZED (SELECT wk.*, job.queue AS job_queue, job.payload AS job_payload, "
        "EXISTS (SELECT 1 FROM absent WHERE absent.i = wk.i) AS is_absent "
        "FROM wk LEFT JOIN job ON job.k = wk.i)",
        # A worker that got a job or finished one: its current job is set (or cleared).
        "cur AS ("
        + upsert.format(where="g.job_queue IS NOT NULL OR g.finishing", sets=job_sets)
        + ")",
        # A plain reserve that missed: only registered when absent, its job kept.
        "reg AS ("
        + upsert.format(where="g.job_queue IS NULL AND NOT g.finishing AND g.is_absent", sets="")
        + ")",
        # As in reserve_statement: absent from the snapshot, or its row inserted afresh.
        f"pinged AS (INSERT INTO {s}.tc_pings (ns, name, queues, time) "
        "SELECT $1, wk.name, wk.queues_str, wk.now_s FROM wk "
        "WHERE wk.i IN (SELECT i FROM absent) "
        "OR wk.member_key IN (SELECT member_key FROM cur WHERE cur.inserted) "
        "ON CONFLICT (ns, name) DO UPDATE SET queues = EXCLUDED.queues, time = EXCLUDED.time)",
    ]
    return (
        "WITH "
        + ",\n     ".join(parts)
        + "\nSELECT g.job_queue, g.job_payload, "
        + "(SELECT count(*) FROM job) < cardinality($2::bytea[]) AND "
        + f"(SELECT count(*) FROM (SELECT 1 FROM {s}.tc_jobs WHERE ns = $1 "
        + "AND queue = ANY($12::text[]) LIMIT cardinality($2::bytea[]) + 1) AS seen) "
        + "> (SELECT count(*) FROM job) AS retry"
        + "\nFROM got AS g ORDER BY g.i"
    )
