"""The shared store: PostgreSQL through psycopg 3 and a :mod:`psycopg_pool` connection pool.

:class:`AsyncPostgresStore` (asyncio, ``AsyncConnection`` and ``AsyncConnectionPool``) is
written here once; :class:`~norce_integration.stores.PostgresStore` is its generated
blocking twin (``_sync_postgres.py``), which connects in its constructor. Both may work on
one database and schema at once. Every statement's text is in :mod:`._pg_sql`.

Many receivers and workers on many machines share one state. How each guarantee of the
:class:`~norce_integration.stores.Store` protocol holds across machines:

* **Inbox claims**: one ``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`` statement
  leases a batch. Concurrent claimers skip each other's rows instead of waiting, and a
  row committed by another claimer meanwhile is re-checked against the claim condition
  before it is taken, so no item is handed to two claimers while its lease runs. A dead
  worker's items become claimable again when their lease ends.
* **In-flight locks** (one import per kind and account, one full import at a time): a
  row per (kind, account) with an expiry, taken by one ``INSERT … ON CONFLICT DO UPDATE
  … WHERE`` statement. No session state is involved, so pooled connections (and
  connection poolers in transaction mode) are fine, and a holder that dies leaves a lock
  that lapses after its TTL instead of one that dies with a connection.
* **Watermarks**: compare-and-set in one ``UPDATE … WHERE value = expected`` (or one
  ``INSERT … ON CONFLICT DO NOTHING`` for the first value). Watermark text compares with
  the ``"C"`` collation, i.e. code point order as in Python and SQLite.
* **Time**: leases, windows and TTLs use the *database server's* clock
  (``statement_timestamp()``), so hosts with skewed clocks agree. Tests may pass
  ``clock`` to drive time by hand, as with :class:`~norce_integration.stores.SqliteStore`.
* **Schema**: tables live in one schema (``norce_integration`` unless told otherwise),
  created and migrated on open under ``pg_advisory_xact_lock`` so several processes may
  start at once; a ``schema_version`` table records the version and a newer schema is
  refused, never downgraded.
* **Commits**: what must survive a server crash (an acknowledged webhook, a job id, a
  watermark, a lock) waits for the WAL flush; progress that is safe to redo (claims,
  acks, dedup keys) does not, unless ``durable_progress=True``.
* **Connections**: a :mod:`psycopg_pool` pool of autocommit connections;
  multi-statement methods run in an explicit transaction. A statement that fails because
  its pooled connection went stale (a server restart, an idle timeout on a proxy) is
  retried on a fresh connection (``retries`` times); deadlocks and
  serialization failures are retried the same way.

Errors: every driver error becomes a :class:`~norce_integration.StoreError` naming the
operation and the server (host, port, database, schema), never the password.

psycopg is an optional dependency (``pip install norce-integration[postgres]``); it is
imported when a store is created, so ``import norce_integration`` works without it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._concurrency import async_sleep
from .._exceptions import ConfigurationError, StoreError, redact
from . import _pg_sql as sql
from ._models import (
    FINAL_STATUSES,
    DeadLetter,
    FullImportRecord,
    InboxItem,
    InFlightLock,
    ItemVersion,
    JobObservation,
    SpoolEntry,
    TrackedJob,
    TrackedStatus,
    Watermark,
)


if TYPE_CHECKING:
    from collections.abc import Awaitable

    import psycopg
    from psycopg_pool import AsyncConnectionPool

    AsyncConnection = psycopg.AsyncConnection[tuple[Any, ...]]
    AsyncCursor = psycopg.AsyncCursor[tuple[Any, ...]]
    # unasync: async-only
    Work = Callable[[AsyncConnection], Awaitable["T"]]
    # unasync: end
    # unasync: sync-only
    # Work = Callable[[Connection], "T"]
    # unasync: end


__all__ = ["AsyncPostgresStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")

Params = Mapping[str, Any] | Sequence[Any] | None


def _load_driver() -> tuple[Any, Any]:
    """``(psycopg, psycopg_pool)``, or a :class:`ConfigurationError` saying what to install."""
    try:
        import psycopg  # noqa: PLC0415 - optional dependency, imported on first use
        import psycopg_pool  # noqa: PLC0415
    except ImportError as exc:
        msg = (
            f"PostgresStore needs psycopg 3 and psycopg-pool ({exc}); install them with "
            f"{sql.INSTALL_HINT}"
        )
        raise ConfigurationError(msg) from exc
    return psycopg, psycopg_pool


class _Transient(Exception):
    """A failure worth one more try on a fresh connection (carries the driver error)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class AsyncPostgresStore:
    """The store on PostgreSQL, shared by many processes (see
    :class:`~norce_integration.stores.AsyncStore`).

    The asyncio store is opened with :meth:`open` (connect, migrate, open the pool) or as
    an async context manager; the blocking :class:`~norce_integration.stores.PostgresStore`
    does the same in its constructor.

    Example:
        >>> async with await AsyncPostgresStore.open(dsn) as store:  # doctest: +SKIP
        ...     await store.inbox_append("key", "ProductChangedNotification", b"{}")
        >>> store = PostgresStore("postgresql://norce@db.internal/integration")  # doctest: +SKIP
        >>> store = PostgresStore.from_env()  # NORCE_STORE_DSN  # doctest: +SKIP
        >>> store.close()  # doctest: +SKIP

    Args:
        dsn: a libpq connection string, URI (``postgresql://user:pw@host:5432/db``) or
            ``key=value`` form. Unset parts fall back to libpq's ``PG*`` variables.
        schema: the schema holding the tables; created if missing. Several integrations
            (or test runs) can share one database with different schemas.
        min_size: connections the pool keeps open.
        max_size: the most connections the pool opens (size it to the threads that use
            the store at once: receiver writer, workers, trackers).
        pool_timeout: seconds a call waits for a free connection (or for the server to
            become reachable) before it fails.
        connect_timeout: seconds one connection attempt may take.
        retries: extra attempts, on a fresh connection, after a statement failed because
            its connection was lost, or after a deadlock or serialization failure. (If
            the connection died just after the server committed, the retry finds its own
            write: ``insert_job`` then returns ``False``, a compare-and-set ``False``,
            an append ``False`` — as if another process had been first — and a dead letter
            may be stored twice.)
        retry_wait: seconds before the second retry (doubling after it; the first retry is
            immediate because a stale pooled connection is the usual cause).
        max_idle: seconds an idle pooled connection is kept beyond ``min_size``.
        max_lifetime: seconds after which a pooled connection is replaced.
        prepare_threshold: executions of a statement after which psycopg prepares it on
            that connection; ``None`` never prepares (for PgBouncer in transaction mode
            before 1.21).
        application_name: shown in ``pg_stat_activity`` unless the DSN sets one.
        durable_progress: make every commit wait for the WAL flush. By default the
            commits that only record progress (inbox claims, acks, releases and reclaims,
            dedup keys, purges) do not (``synchronous_commit = off`` for that transaction):
            a crash of the *server* may forget the last fraction of a second of them, which
            at worst hands an event out again or lets one redelivery through (delivery is
            at-least-once anyway), and an ack costs a round trip instead of a disk flush.
            Appends, jobs, watermarks, full imports, item versions, dead letters, spool
            entries and in-flight locks always wait for the flush.
        clock: seconds since the epoch for leases, windows and TTLs. ``None`` (the
            default) uses the database server's clock, so hosts agree whatever their own
            clocks say; tests pass a manual clock.

    Every method raises :class:`~norce_integration.StoreError` when PostgreSQL fails or
    cannot be reached, before the store is open, or after closing; no psycopg exception
    escapes.

    Raises:
        ConfigurationError: psycopg is not installed, the DSN cannot be parsed, or an
            argument is invalid.
        StoreError: (:meth:`open`, and the blocking store's constructor) the server cannot
            be reached, the schema cannot be created or migrated, or it was written by a
            newer SDK.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = sql.DEFAULT_SCHEMA,
        min_size: int = 1,
        max_size: int = 10,
        pool_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retries: int = 2,
        retry_wait: float = 0.2,
        max_idle: float = 600.0,
        max_lifetime: float = 3600.0,
        prepare_threshold: int | None = 5,
        application_name: str = "norce-integration",
        durable_progress: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        psycopg, psycopg_pool = _load_driver()
        self._psycopg = psycopg
        self._psycopg_pool = psycopg_pool
        self._password = ""
        if not sql.SCHEMA_NAME.match(schema):
            msg = f"schema must be a plain identifier (letters, digits, _), got {schema!r}"
            raise ConfigurationError(msg, setting="schema")
        if min_size < 0 or max_size < max(1, min_size):
            msg = f"need 0 <= min_size <= max_size and max_size >= 1, got {min_size}/{max_size}"
            raise ConfigurationError(msg, setting="max_size")
        try:
            params = psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            msg = f"the PostgreSQL DSN cannot be parsed: {self._scrub(str(exc), dsn)}"
            raise ConfigurationError(msg, setting=sql.DSN_ENV) from None
        self._password = str(params.get("password") or "")
        self.schema = schema
        self.host = str(params.get("host") or os.environ.get("PGHOST") or "localhost")
        port = str(params.get("port") or os.environ.get("PGPORT") or "5432").split(",")[0]
        self.port = int(port) if port.isdigit() else 5432
        self.dbname = str(
            params.get("dbname") or os.environ.get("PGDATABASE") or params.get("user") or ""
        )
        self._clock = clock
        self._durable_progress = durable_progress
        self._retries = max(0, retries)
        self._retry_wait = retry_wait
        self._pool_timeout = pool_timeout
        self._connect_timeout = connect_timeout
        self._min_size = min_size
        self._pool_options: dict[str, Any] = {
            "min_size": min_size,
            "max_size": max_size,
            "timeout": pool_timeout,
            "max_idle": max_idle,
            "max_lifetime": max_lifetime,
            "reconnect_timeout": max(pool_timeout, 60.0),
            "kwargs": {"autocommit": True, "prepare_threshold": prepare_threshold},
        }
        self._closed = False
        self._pool: AsyncConnectionPool[Any] | None = None
        self._queries: dict[str, str] = {}
        self._quoted = '"' + schema + '"'
        extra: dict[str, Any] = {"connect_timeout": max(2, round(connect_timeout))}
        if "application_name" not in params:
            extra["application_name"] = application_name
        self._conninfo: str = psycopg.conninfo.make_conninfo(dsn, **extra)
        self._errors = psycopg.Error
        self._operational = psycopg.OperationalError
        self._retryable = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
        self._pool_timeout_error = psycopg_pool.PoolTimeout
        # unasync: sync-only
        # self._start()  # the blocking store connects in its constructor
        # unasync: end

    # ------------------------------------------------------------------ construction

    @classmethod
    async def open(cls, dsn: str, **kwargs: Any) -> AsyncPostgresStore:
        """Connect, create or migrate the schema, and open the pool.

        Args:
            dsn: as the constructor.
            **kwargs: any other constructor argument.

        Raises:
            ConfigurationError: as the constructor.
            StoreError: the server cannot be reached, the schema cannot be created or
                migrated, or it was written by a newer SDK.
        """
        store = cls(dsn, **kwargs)
        await store._start()
        return store

    @classmethod
    async def from_env(cls, **kwargs: Any) -> AsyncPostgresStore:
        """An opened store on ``NORCE_STORE_DSN`` (schema from ``NORCE_STORE_SCHEMA``).

        Args:
            **kwargs: any other constructor argument.

        Raises:
            ConfigurationError: ``NORCE_STORE_DSN`` is unset or empty, or as the constructor.
            StoreError: as :meth:`open`.
        """
        dsn = os.environ.get(sql.DSN_ENV, "").strip()
        if not dsn:
            msg = "set it to the PostgreSQL connection string of the shared store"
            raise ConfigurationError(msg, setting=sql.DSN_ENV)
        schema = os.environ.get(sql.SCHEMA_ENV, "").strip()
        if schema and "schema" not in kwargs:
            kwargs["schema"] = schema
        return await cls.open(dsn, **kwargs)

    async def _start(self) -> None:
        if self._pool is not None:
            return  # already open (the blocking store opens in its constructor)
        if self._closed:
            msg = f"{self!r} is closed"
            raise StoreError(msg)
        # Connect once directly: migrations need one connection, and a direct attempt
        # reports *why* the server is unreachable (the pool would only time out).
        await self._migrate_with_retries()
        pool: AsyncConnectionPool[Any] = self._psycopg_pool.AsyncConnectionPool(
            self._conninfo,
            configure=self._configure,
            name=f"norce-store-{self.schema}",
            open=False,
            **self._pool_options,
        )
        try:
            await pool.open(wait=self._min_size > 0, timeout=max(self._connect_timeout, 1.0))
        except (self._errors, self._pool_timeout_error) as exc:
            await pool.close()
            self._closed = True
            raise self._error("open the connection pool", exc) from None
        self._pool = pool

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(host={self.host!r}, port={self.port}, "
            f"dbname={self.dbname!r}, schema={self.schema!r})"
        )

    async def __aenter__(self) -> AsyncPostgresStore:
        if self._pool is None and not self._closed:
            await self._start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool and all its connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @property
    def closed(self) -> bool:
        """True after closing."""
        return self._closed

    # unasync: async-only
    async def schema_version(self) -> int:
        """The schema version of the database."""
        row = await self._one("read the schema version", sql.SCHEMA_VERSION)
        return int(row[0] or 0) if row is not None else 0

    # unasync: end
    # unasync: sync-only
    # @property
    # def schema_version(self) -> int:
    #     """The schema version of the database."""
    #     row = self._one("read the schema version", sql.SCHEMA_VERSION)
    #     return int(row[0] or 0) if row is not None else 0
    #
    # unasync: end
    # ------------------------------------------------------------------ plumbing

    @property
    def _where(self) -> str:
        return (
            f"PostgreSQL at {self.host}:{self.port}, database {self.dbname!r}, "
            f"schema {self.schema!r}"
        )

    def _scrub(self, text: str, *also: str) -> str:
        """Error text without the password (nor a DSN that failed to parse)."""
        for secret in (self._password, *also):
            if secret:
                text = text.replace(secret, "***")
        return redact(text)

    def _error(self, what: str, exc: BaseException) -> StoreError:
        cause = exc.cause if isinstance(exc, _Transient) else exc
        if isinstance(cause, self._pool_timeout_error):
            detail = (
                f"no connection within {self._pool_timeout:g}s (server unreachable or pool "
                f"exhausted): {cause}"
            )
        else:
            detail = f"{type(cause).__name__}: {cause}".strip()
        name = type(self).__name__
        return StoreError(f"{name}: cannot {what} ({self._where}): {self._scrub(detail)}")

    def _q(self, template: str) -> str:
        """The SQL of ``template`` for this store: ``{s}`` is the schema, ``{now}`` the time."""
        query = self._queries.get(template)
        if query is None:
            now = "%(now)s::timestamptz" if self._clock is not None else "statement_timestamp()"
            query = template.replace("{s}", self._quoted).replace("{now}", now)
            self._queries[template] = query
        return query

    def _p(self, **params: Any) -> dict[str, Any]:
        """Statement parameters, with ``now`` from the manual clock when there is one."""
        if self._clock is not None:
            params["now"] = dt.datetime.fromtimestamp(float(self._clock()), dt.UTC)
        return params

    async def _configure(self, conn: AsyncConnection) -> None:
        # Timestamps come back in UTC; the records want UTC anyway.
        await conn.execute(sql.SET_UTC)

    async def _connect(self) -> AsyncConnection:
        conn: AsyncConnection = await self._psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True
        )
        try:
            await self._configure(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _migrate_with_retries(self) -> None:
        attempt = 0
        while True:
            try:
                conn = await self._connect()
                break
            except self._operational as exc:
                attempt += 1
                if attempt > self._retries:
                    raise self._error("connect", exc) from None
                await async_sleep(min(5.0, self._retry_wait * 2 ** (attempt - 1)))
            except self._errors as exc:
                raise self._error("connect", exc) from None
        try:
            await self._migrate(conn)
        except self._errors as exc:
            raise self._error("create or migrate the schema", exc) from None
        finally:
            await conn.close()

    async def _migrate(self, conn: AsyncConnection) -> None:
        async with conn.transaction():
            # Serialises migrations of this schema across processes (and across the
            # blocking and asyncio stores); released at commit.
            await conn.execute(sql.MIGRATION_LOCK, (f"norce-integration migrate {self.schema}",))
            await conn.execute(self._q(sql.CREATE_SCHEMA))
            await conn.execute(self._q(sql.CREATE_SCHEMA_VERSION))
            row = await (await conn.execute(self._q(sql.SCHEMA_VERSION))).fetchone()
            current = int(row[0] or 0) if row is not None else 0
            if current > len(sql.MIGRATIONS):
                msg = (
                    f"{self._where} has schema version {current}; this SDK knows up to "
                    f"{len(sql.MIGRATIONS)}. Upgrade norce-integration."
                )
                raise StoreError(msg)
            for version in range(current + 1, len(sql.MIGRATIONS) + 1):
                for statement in sql.MIGRATIONS[version - 1]:
                    await conn.execute(self._q(statement))
                await conn.execute(self._q(sql.INSERT_SCHEMA_VERSION), (version,))
                log.info("migrated %s to schema version %d", self._where, version)

    async def _attempt(self, pool: AsyncConnectionPool[Any], fn: Work[T]) -> T:
        async with pool.connection() as conn:
            try:
                return await fn(conn)
            except self._operational as exc:
                if conn.broken or conn.closed:
                    raise _Transient(exc) from exc
                raise
            except self._retryable as exc:
                raise _Transient(exc) from exc

    async def _check_pool(self, exc: BaseException) -> None:
        log.warning(
            "%s: retrying after a lost connection or conflict (%s): %s",
            type(self).__name__,
            self._where,
            self._scrub(str(exc)),
        )
        # Drop every other stale connection too: after a server restart all of them are.
        if self._pool is None:
            return
        try:
            await self._pool.check()
        except self._errors:  # the server may still be down; the retry will tell
            log.debug("pool check failed", exc_info=True)

    async def _run(self, what: str, fn: Work[T]) -> T:
        """Run ``fn`` on a pooled connection; retry transient failures; wrap errors."""
        if self._closed:
            msg = f"{self!r} is closed"
            raise StoreError(msg)
        pool = self._pool
        if pool is None:
            msg = f"{self!r} is not open (create it with: await AsyncPostgresStore.open(...))"
            raise StoreError(msg)
        attempt = 0
        while True:
            try:
                return await self._attempt(pool, fn)
            except _Transient as exc:
                attempt += 1
                if attempt > self._retries:
                    raise self._error(what, exc) from exc.cause
                await self._check_pool(exc)
                if attempt > 1:  # the first retry is immediate: a stale connection
                    await async_sleep(min(5.0, self._retry_wait * 2 ** (attempt - 2)))
            except (self._errors, self._pool_timeout_error) as exc:
                raise self._error(what, exc) from exc

    async def _one(self, what: str, template: str, params: Params = None) -> tuple[Any, ...] | None:
        query = self._q(template)

        async def run(conn: AsyncConnection) -> tuple[Any, ...] | None:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

        return await self._run(what, run)

    async def _all(
        self, what: str, template: str, params: Params = None, *, relaxed: bool = False
    ) -> list[tuple[Any, ...]]:
        query = self._q(template)

        async def run(conn: AsyncConnection) -> list[tuple[Any, ...]]:
            if relaxed and not self._durable_progress:
                cur = await self._relaxed(conn, query, params)
            else:
                cur = await conn.execute(query, params)
            return await cur.fetchall()

        return await self._run(what, run)

    async def _count(
        self, what: str, template: str, params: Params = None, *, relaxed: bool = False
    ) -> int:
        """Rows affected by one statement (its own transaction)."""
        query = self._q(template)

        async def run(conn: AsyncConnection) -> int:
            if relaxed and not self._durable_progress:
                return (await self._relaxed(conn, query, params)).rowcount
            return (await conn.execute(query, params)).rowcount

        return await self._run(what, run)

    @staticmethod
    async def _relaxed(conn: AsyncConnection, query: str, params: Params) -> AsyncCursor:
        """One statement in a transaction that does not wait for the WAL flush (pipelined)."""
        async with conn.pipeline(), conn.transaction():
            await conn.execute(sql.RELAXED_COMMIT)
            # Results are read after the block: leaving it syncs the pipeline.
            return await conn.execute(query, params)

    # ------------------------------------------------------------------ watermarks

    async def get_watermark(self, kind: str, account_id: int, source: str) -> Watermark | None:
        """See :meth:`Store.get_watermark`."""
        row = await self._one("read a watermark", sql.GET_WATERMARK, (kind, account_id, source))
        if row is None:
            return None
        return Watermark(kind, account_id, source, row[0], row[1], sql.utc(row[2]))

    async def compare_and_set_watermark(
        self,
        kind: str,
        account_id: int,
        source: str,
        *,
        expected: str | None,
        new: str,
        allow_backwards: bool = False,
    ) -> bool:
        """See :meth:`Store.compare_and_set_watermark` (one statement either way)."""
        params = self._p(
            kind=kind,
            account=account_id,
            source=source,
            expected=expected,
            new=new,
            back=allow_backwards,
        )
        statement = sql.FIRST_WATERMARK if expected is None else sql.NEXT_WATERMARK
        return await self._count("set a watermark", statement, params) > 0

    # ------------------------------------------------------------------ tracked jobs

    async def _insert_history(
        self, conn: AsyncConnection, observations: Iterable[JobObservation]
    ) -> None:
        rows = [
            (
                o.job_id,
                o.seen_at,
                o.status.value,
                o.status_id,
                sql.aware(o.last_updated),
                o.source,
                o.note,
            )
            for o in observations
        ]
        if rows:
            async with conn.cursor() as cur:
                await cur.executemany(self._q(sql.INSERT_HISTORY), rows)

    async def insert_job(self, job: TrackedJob) -> bool:
        """See :meth:`Store.insert_job`."""
        query = self._q(sql.INSERT_JOB)
        values = (
            job.job_id,
            job.kind,
            job.full,
            job.account_id,
            job.submitted_at,
            job.item_count,
            job.payload_digest,
            job.payload_size,
            job.header,
            job.status.value,
            job.status_id,
            job.totals,
            job.inserts,
            job.updates,
            job.fail,
            sql.aware(job.started_at),
            sql.aware(job.finished_at),
            sql.aware(job.last_updated),
            job.polls,
            job.rerun_of,
            job.superseded_by,
        )

        async def run(conn: AsyncConnection) -> bool:
            async with conn.transaction():
                if (await conn.execute(query, values)).rowcount == 0:
                    return False
                await self._insert_history(conn, job.history)
                return True

        return await self._run("insert a job", run)

    async def record_job_status(
        self,
        job_id: int,
        observation: JobObservation | None = None,
        *,
        totals: int | None = None,
        inserts: int | None = None,
        updates: int | None = None,
        fail: int | None = None,
        started_at: dt.datetime | None = None,
        finished_at: dt.datetime | None = None,
        add_polls: int = 0,
    ) -> TrackedJob | None:
        """See :meth:`Store.record_job_status`."""
        if observation is not None and observation.job_id != job_id:
            msg = f"observation of job {observation.job_id} recorded for job {job_id}"
            raise ValueError(msg)
        select = self._q(sql.LOCK_JOB_STATUS)
        update = self._q(sql.UPDATE_JOB)

        async def run(conn: AsyncConnection) -> TrackedJob | None:
            async with conn.transaction():
                row = await (await conn.execute(select, (job_id,))).fetchone()
                if row is None:
                    return None
                current = TrackedStatus(row[0])
                # A final status is sticky: a late poll must not undo what an event settled.
                changeable = observation is not None and current not in FINAL_STATUSES
                status = current
                if observation is not None:
                    await self._insert_history(conn, (observation,))
                    if changeable:
                        status = observation.status
                await conn.execute(
                    update,
                    {
                        "status": status.value,
                        "changeable": changeable,
                        "status_id": None if observation is None else observation.status_id,
                        "totals": totals,
                        "inserts": inserts,
                        "updates": updates,
                        "fail": fail,
                        "started_at": sql.aware(started_at),
                        "finished_at": sql.aware(finished_at),
                        "last_updated": None
                        if observation is None
                        else sql.aware(observation.last_updated),
                        "add_polls": add_polls,
                        "job_id": job_id,
                    },
                )
                return await self._load_job(conn, job_id, with_history=True)

        return await self._run("record a job status", run)

    async def _load_job(
        self, conn: AsyncConnection, job_id: int, *, with_history: bool
    ) -> TrackedJob | None:
        if not with_history:
            cur = await conn.execute(self._q(sql.GET_JOB), (job_id,))
            row = await cur.fetchone()
            return None if row is None else sql.job(row)
        cur = await conn.execute(self._q(sql.GET_JOB_WITH_HISTORY), (job_id,))
        rows = await cur.fetchall()
        if not rows:
            return None
        history = tuple(
            JobObservation(
                job_id=job_id,
                seen_at=sql.utc(r[21]),
                status=TrackedStatus(r[22]),
                status_id=r[23],
                last_updated=sql.utc_opt(r[24]),
                source=r[25],
                note=r[26],
            )
            for r in rows
            if r[21] is not None
        )
        return sql.job(rows[0][:21], history)

    async def get_job(self, job_id: int, *, with_history: bool = True) -> TrackedJob | None:
        """See :meth:`Store.get_job`."""

        async def run(conn: AsyncConnection) -> TrackedJob | None:
            return await self._load_job(conn, job_id, with_history=with_history)

        return await self._run("read a job", run)

    async def list_jobs(
        self,
        *,
        kind: str | None = None,
        account_id: int | None = None,
        statuses: Iterable[TrackedStatus] | None = None,
        submitted_before: dt.datetime | None = None,
        submitted_after: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[TrackedJob]:
        """See :meth:`Store.list_jobs`."""
        query = sql.list_jobs_sql(
            kind=kind,
            account_id=account_id,
            statuses=statuses,
            submitted_before=submitted_before,
            submitted_after=submitted_after,
            limit=limit,
        )
        if query is None:
            return []
        statement, params = query
        return [sql.job(row) for row in await self._all("list jobs", statement, params)]

    async def unresolved_jobs(
        self, *, kind: str | None = None, account_id: int | None = None
    ) -> list[TrackedJob]:
        """See :meth:`Store.unresolved_jobs`."""
        open_statuses = [s for s in TrackedStatus if s not in FINAL_STATUSES]
        jobs = await self.list_jobs(kind=kind, account_id=account_id, statuses=open_statuses)
        return sorted(jobs, key=lambda j: (j.submitted_at, j.job_id))

    async def mark_superseded(
        self,
        kind: str,
        account_id: int,
        *,
        by_job_id: int,
        submitted_before: dt.datetime,
        statuses: Iterable[TrackedStatus] = (
            TrackedStatus.FAILED,
            TrackedStatus.VALIDATION_FAILED,
        ),
    ) -> list[int]:
        """See :meth:`Store.mark_superseded`."""
        values = [TrackedStatus(s).value for s in statuses]
        if not values:
            return []
        params = self._p(
            superseded=TrackedStatus.SUPERSEDED.value,
            by=by_job_id,
            kind=kind,
            account=account_id,
            before=sql.aware(submitted_before),
            statuses=values,
            note=f"superseded by successful full import {by_job_id}",
        )
        rows = await self._all("mark jobs superseded", sql.MARK_SUPERSEDED, params)
        return [int(r[0]) for r in rows]

    # ------------------------------------------------------------------ full imports

    async def get_last_full_import(self, kind: str, account_id: int) -> FullImportRecord | None:
        """See :meth:`Store.get_last_full_import`."""
        row = await self._one("read the last full import", sql.GET_FULL_IMPORT, (kind, account_id))
        if row is None:
            return None
        return FullImportRecord(kind, account_id, row[0], sql.utc(row[1]), row[2])

    async def set_last_full_import(self, record: FullImportRecord) -> bool:
        """See :meth:`Store.set_last_full_import`."""
        values = (
            record.kind,
            record.account_id,
            record.job_id,
            record.finished_at,
            record.item_count,
        )
        return await self._count("record a full import", sql.SET_FULL_IMPORT, values) > 0

    # ------------------------------------------------------------------ item versions

    async def get_item_versions(self, kind: str, keys: Sequence[str]) -> dict[str, ItemVersion]:
        """See :meth:`Store.get_item_versions` (chunks of 1 000 keys, pipelined)."""
        result: dict[str, ItemVersion] = {}
        if not keys:
            return result
        query = self._q(sql.GET_VERSIONS)
        ordered = sorted(set(keys))

        async def run(conn: AsyncConnection) -> dict[str, ItemVersion]:
            result.clear()  # a retry starts over
            if len(ordered) <= sql.PROBE_CHUNK:
                cur = await conn.execute(query, (ordered, kind))
                for key, fingerprint, version in await cur.fetchall():
                    result[key] = ItemVersion(fingerprint, version)
                return result
            for window in sql.chunks(ordered, sql.PROBE_CHUNK * sql.PROBE_DEPTH):
                async with conn.pipeline():
                    cursors = [
                        await conn.cursor().execute(query, (list(chunk), kind))
                        for chunk in sql.chunks(window, sql.PROBE_CHUNK)
                    ]
                    for cur in cursors:
                        for key, fingerprint, version in await cur.fetchall():
                            result[key] = ItemVersion(fingerprint, version)
                        await cur.close()
            return result

        return await self._run("read item versions", run)

    async def put_item_versions(self, kind: str, versions: Mapping[str, ItemVersion]) -> None:
        """See :meth:`Store.put_item_versions` (sorted keys, 20 000 per statement)."""
        if not versions:
            return
        query = self._q(sql.PUT_VERSIONS)
        ordered = sorted(versions)

        async def run(conn: AsyncConnection) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                for chunk in sql.chunks(ordered, sql.KEY_CHUNK):
                    await cur.execute(
                        query,
                        (
                            kind,
                            list(chunk),
                            [versions[k].fingerprint for k in chunk],
                            [versions[k].version for k in chunk],
                        ),
                    )

        await self._run("write item versions", run)

    async def delete_item_versions(self, kind: str, keys: Sequence[str]) -> int:
        """See :meth:`Store.delete_item_versions`."""
        if not keys:
            return 0
        query = self._q(sql.DELETE_VERSIONS)
        ordered = sorted(set(keys))

        async def run(conn: AsyncConnection) -> int:
            deleted = 0
            async with conn.transaction(), conn.cursor() as cur:
                for chunk in sql.chunks(ordered, sql.KEY_CHUNK):
                    await cur.execute(query, (kind, list(chunk)))
                    deleted += cur.rowcount
            return deleted

        return await self._run("delete item versions", run)

    async def count_item_versions(self, kind: str) -> int:
        """See :meth:`Store.count_item_versions`."""
        row = await self._one("count item versions", sql.COUNT_VERSIONS, (kind,))
        return int(row[0]) if row is not None else 0

    # ------------------------------------------------------------------ webhook inbox

    async def inbox_append(self, dedup_key: str, event_type: str, payload: bytes) -> bool:
        """See :meth:`Store.inbox_append`."""
        params = self._p(key=dedup_key, type=event_type, payload=bytes(payload))
        return await self._count("append to the inbox", sql.INBOX_APPEND, params) > 0

    async def inbox_append_many(
        self, entries: Sequence[tuple[str | None, str, str, bytes]], *, window: float
    ) -> list[bool]:
        """Append many events in one transaction, each checked against a dedup window.

        :meth:`inbox_write` without dead letters; kept for callers of earlier versions.
        An entry whose inbox key exists already is not stored either (``False``).

        Raises:
            StoreError: the transaction failed; nothing was written.
        """
        return (await self.inbox_write(entries, window=window))[0]

    async def inbox_write(
        self,
        entries: Sequence[tuple[str | None, str, str, bytes]],
        *,
        window: float,
        letters: Sequence[tuple[str, str | None, bytes, str]] = (),
    ) -> tuple[list[bool], list[int]]:
        """See :meth:`Store.inbox_write` (one pipelined statement per entry, one commit)."""
        if not entries and not letters:
            return [], []
        append = self._q(sql.INBOX_WRITE)
        letter = self._q(sql.PUT_LETTER_NOW)
        rows = [
            self._p(
                dedup=dedup if window > 0 else None,
                window=float(window),
                key=key,
                type=event_type,
                payload=bytes(payload),
            )
            for dedup, key, event_type, payload in entries
        ]
        letter_rows = [
            self._p(source=source, key=key, payload=bytes(payload), error=error)
            for source, key, payload, error in letters
        ]

        async def results(cur: AsyncCursor) -> list[tuple[Any, ...] | None]:
            found = []
            while True:
                found.append(await cur.fetchone())
                if not cur.nextset():
                    return found

        async def run(conn: AsyncConnection) -> tuple[list[bool], list[int]]:
            stored: list[bool] = []
            ids: list[int] = []
            async with conn.transaction(), conn.cursor() as cur:
                if rows:
                    await cur.executemany(append, rows, returning=True)
                    stored = [row is not None for row in await results(cur)]
                if letter_rows:
                    await cur.executemany(letter, letter_rows, returning=True)
                    ids = [int(row[0]) for row in await results(cur) if row is not None]
            return stored, ids

        return await self._run("append to the inbox", run)

    async def inbox_claim(self, owner: str, *, limit: int, lease: float) -> list[InboxItem]:
        """See :meth:`Store.inbox_claim` (``FOR UPDATE SKIP LOCKED``)."""
        if limit <= 0:
            return []
        rows = await self._all(
            "claim inbox items",
            sql.INBOX_CLAIM,
            self._p(owner=owner, limit=int(limit), lease=float(lease)),
            relaxed=True,
        )
        return sorted((sql.inbox(row) for row in rows), key=lambda i: i.item_id)

    async def inbox_ack(self, item_id: int, owner: str) -> bool:
        """See :meth:`Store.inbox_ack`."""
        return await self.inbox_ack_many((item_id,), owner) > 0

    async def inbox_ack_many(self, item_ids: Sequence[int], owner: str) -> int:
        """See :meth:`Store.inbox_ack_many` (one statement)."""
        if not item_ids:
            return 0
        params = self._p(ids=sorted(set(item_ids)), owner=owner)
        return await self._count("acknowledge inbox items", sql.INBOX_ACK, params, relaxed=True)

    async def inbox_release(
        self, item_id: int, owner: str, *, error: str | None = None, delay: float = 0.0
    ) -> bool:
        """See :meth:`Store.inbox_release`."""
        return await self.inbox_release_many(((item_id, error, delay),), owner) > 0

    async def inbox_release_many(
        self, releases: Sequence[tuple[int, str | None, float]], owner: str
    ) -> int:
        """See :meth:`Store.inbox_release_many` (one statement)."""
        if not releases:
            return 0
        ids, errors, delays = sql.latest_releases(releases)
        params = self._p(ids=ids, errors=errors, delays=delays, owner=owner)
        return await self._count("release inbox items", sql.INBOX_RELEASE, params, relaxed=True)

    async def inbox_renew(self, item_ids: Sequence[int], owner: str, *, lease: float) -> int:
        """See :meth:`Store.inbox_renew` (one statement)."""
        if not item_ids:
            return 0
        params = self._p(ids=sorted(set(item_ids)), owner=owner, lease=float(lease))
        return await self._count("renew inbox leases", sql.INBOX_RENEW, params, relaxed=True)

    async def inbox_counts(self) -> dict[str, int]:
        """See :meth:`Store.inbox_counts`."""
        return sql.counts_by_status(await self._all("count inbox items", sql.INBOX_COUNTS))

    async def inbox_oldest_pending(self) -> dt.datetime | None:
        """See :meth:`Store.inbox_oldest_pending`."""
        row = await self._one("read the oldest pending inbox item", sql.INBOX_OLDEST_PENDING)
        return sql.utc_opt(row[0]) if row is not None else None

    async def inbox_reclaim_expired(self) -> int:
        """See :meth:`Store.inbox_reclaim_expired`."""
        return await self._count(
            "reclaim expired inbox leases", sql.INBOX_RECLAIM, self._p(), relaxed=True
        )

    async def inbox_get(self, item_id: int) -> InboxItem | None:
        """See :meth:`Store.inbox_get`."""
        row = await self._one("read an inbox item", sql.INBOX_GET, (item_id,))
        return None if row is None else sql.inbox(row)

    async def inbox_purge(self, *, done_before: dt.datetime) -> int:
        """See :meth:`Store.inbox_purge`."""
        return await self._count(
            "purge the inbox", sql.INBOX_PURGE, (sql.aware(done_before),), relaxed=True
        )

    # ------------------------------------------------------------------ dedup keys

    async def dedup_add(self, key: str, *, window: float) -> bool:
        """See :meth:`Store.dedup_add`."""
        params = self._p(key=key, window=float(window))
        return await self._count("add a dedup key", sql.DEDUP_ADD, params, relaxed=True) > 0

    async def dedup_purge(self) -> int:
        """See :meth:`Store.dedup_purge`."""
        return await self._count("purge dedup keys", sql.DEDUP_PURGE, self._p(), relaxed=True)

    async def dedup_expire(self, keys: Sequence[str]) -> int:
        """See :meth:`Store.dedup_expire`."""
        if not keys:
            return 0
        params = self._p(keys=sorted(set(keys)))
        return await self._count("expire dedup keys", sql.DEDUP_EXPIRE, params, relaxed=True)

    # ------------------------------------------------------------------ dead letters

    async def put_dead_letter(
        self,
        source: str,
        payload: bytes,
        error: str,
        *,
        key: str | None = None,
        attempts: int = 0,
    ) -> int:
        """See :meth:`Store.put_dead_letter`."""
        params = self._p(
            source=source, key=key, payload=bytes(payload), error=error, attempts=attempts
        )
        row = await self._one("store a dead letter", sql.PUT_LETTER, params)
        assert row is not None
        return int(row[0])

    async def list_dead_letters(
        self, *, source: str | None = None, limit: int | None = None
    ) -> list[DeadLetter]:
        """See :meth:`Store.list_dead_letters`."""
        statement = sql.LIST_LETTERS
        params: list[Any] = []
        if source is not None:
            statement += " WHERE source = %s"
            params.append(source)
        statement += " ORDER BY letter_id"
        if limit is not None:
            statement += " LIMIT %s"
            params.append(int(limit))
        return [sql.letter(r) for r in await self._all("list dead letters", statement, params)]

    async def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        """See :meth:`Store.get_dead_letter`."""
        row = await self._one("read a dead letter", sql.GET_LETTER, (letter_id,))
        return None if row is None else sql.letter(row)

    async def delete_dead_letter(self, letter_id: int) -> bool:
        """See :meth:`Store.delete_dead_letter`."""
        return await self._count("delete a dead letter", sql.DELETE_LETTER, (letter_id,)) > 0

    # ------------------------------------------------------------------ payload spool index

    async def put_spool_entry(self, entry: SpoolEntry) -> None:
        """See :meth:`Store.put_spool_entry`."""
        values = (
            entry.job_id,
            entry.path,
            entry.size,
            entry.created_at,
            entry.kind,
            entry.header,
            entry.digest,
        )
        await self._count("write a spool entry", sql.PUT_SPOOL, values)

    async def get_spool_entry(self, job_id: int) -> SpoolEntry | None:
        """See :meth:`Store.get_spool_entry`."""
        row = await self._one("read a spool entry", sql.GET_SPOOL, (job_id,))
        return None if row is None else sql.spool(row)

    async def list_spool_entries(self) -> list[SpoolEntry]:
        """See :meth:`Store.list_spool_entries`."""
        return [sql.spool(r) for r in await self._all("list spool entries", sql.LIST_SPOOL)]

    async def delete_spool_entry(self, job_id: int) -> bool:
        """See :meth:`Store.delete_spool_entry`."""
        return await self._count("delete a spool entry", sql.DELETE_SPOOL, (job_id,)) > 0

    # ------------------------------------------------------------------ in-flight locks

    async def acquire_lock(self, kind: str, account_id: int, owner: str, *, ttl: float) -> bool:
        """See :meth:`Store.acquire_lock` (one upsert; racing hosts cannot both win)."""
        params = self._p(kind=kind, account=account_id, owner=owner, ttl=float(ttl))
        return await self._count("acquire an in-flight lock", sql.ACQUIRE_LOCK, params) > 0

    async def release_lock(self, kind: str, account_id: int, owner: str) -> bool:
        """See :meth:`Store.release_lock`."""
        values = (kind, account_id, owner)
        return await self._count("release an in-flight lock", sql.RELEASE_LOCK, values) > 0

    async def lock_holder(self, kind: str, account_id: int) -> InFlightLock | None:
        """See :meth:`Store.lock_holder`."""
        params = self._p(kind=kind, account=account_id)
        row = await self._one("read an in-flight lock", sql.LOCK_HOLDER, params)
        if row is None:
            return None
        return InFlightLock(kind, account_id, row[0], sql.utc(row[1]), sql.utc(row[2]))

    # ------------------------------------------------------------------ key/value

    async def kv_get(self, namespace: str, key: str) -> str | None:
        """See :meth:`Store.kv_get`."""
        row = await self._one("read a key", sql.KV_GET, (namespace, key))
        return None if row is None else str(row[0])

    async def kv_put(self, namespace: str, key: str, value: str) -> None:
        """See :meth:`Store.kv_put`."""
        await self._count("write a key", sql.KV_PUT, (namespace, key, value))

    async def kv_compare_and_set(
        self, namespace: str, key: str, expected: str | None, new: str | None
    ) -> bool:
        """See :meth:`Store.kv_compare_and_set` (one statement)."""
        statement, order = sql.kv_compare_and_set(expected, new)
        values = (namespace, key, expected, new)
        params = [values[i] for i in order]
        if statement == sql.KV_ABSENT:
            row = await self._one("compare and set a key", statement, params)
            return bool(row and row[0])
        return await self._count("compare and set a key", statement, params) > 0

    async def kv_delete(self, namespace: str, key: str) -> bool:
        """See :meth:`Store.kv_delete`."""
        return await self._count("delete a key", sql.KV_DELETE, (namespace, key)) > 0

    async def kv_list(self, namespace: str, prefix: str = "") -> dict[str, str]:
        """See :meth:`Store.kv_list`."""
        rows = await self._all("list keys", sql.KV_LIST, (namespace, len(prefix), prefix))
        return {str(k): str(v) for k, v in rows}
