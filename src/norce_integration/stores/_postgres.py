"""The shared store: PostgreSQL through psycopg 3 and a :mod:`psycopg_pool` connection pool.

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
* **Connections**: a :class:`psycopg_pool.ConnectionPool` of autocommit connections;
  multi-statement methods run in an explicit transaction. A statement that fails because
  its pooled connection went stale (a server restart, an idle timeout on a proxy) is
  retried on a fresh connection (``retries`` times, with :mod:`tenacity`); deadlocks and
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
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import tenacity

from .._exceptions import ConfigurationError, StoreError, redact
from ._protocol import (
    FINAL_STATUSES,
    DeadLetter,
    FullImportRecord,
    InboxItem,
    InboxStatus,
    InFlightLock,
    ItemVersion,
    JobObservation,
    SpoolEntry,
    TrackedJob,
    TrackedStatus,
    Watermark,
)
from ._rows import inbox_from_row, job_from_row


if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

    Connection = psycopg.Connection[tuple[Any, ...]]


__all__ = ["DEFAULT_SCHEMA", "DSN_ENV", "MIGRATIONS", "SCHEMA_ENV", "PostgresStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_SCHEMA: Final = "norce_integration"
DSN_ENV: Final = "NORCE_STORE_DSN"
SCHEMA_ENV: Final = "NORCE_STORE_SCHEMA"
_INSTALL_HINT: Final = "pip install 'norce-integration[postgres]'"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: everything the SDK keeps today (the same tables as SqliteStore's migration 1).
    (
        """CREATE TABLE {s}.watermarks (
            kind TEXT NOT NULL, account_id BIGINT NOT NULL, source TEXT NOT NULL,
            value TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (kind, account_id, source))""",
        """CREATE TABLE {s}.jobs (
            job_id BIGINT PRIMARY KEY, kind TEXT NOT NULL, is_full BOOLEAN NOT NULL,
            account_id BIGINT NOT NULL, submitted_at TIMESTAMPTZ NOT NULL,
            item_count BIGINT NOT NULL, payload_digest TEXT NOT NULL,
            payload_size BIGINT NOT NULL, header TEXT NOT NULL, status TEXT NOT NULL,
            status_id INTEGER, totals BIGINT, inserts BIGINT, updates BIGINT, fail BIGINT,
            started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, last_updated TIMESTAMPTZ,
            polls BIGINT NOT NULL DEFAULT 0, rerun_of BIGINT, superseded_by BIGINT)""",
        "CREATE INDEX jobs_by_kind ON {s}.jobs (kind, account_id, submitted_at)",
        "CREATE INDEX jobs_by_status ON {s}.jobs (status, submitted_at)",
        """CREATE TABLE {s}.job_history (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id BIGINT NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
            seen_at TIMESTAMPTZ NOT NULL, status TEXT NOT NULL, status_id INTEGER,
            last_updated TIMESTAMPTZ, source TEXT NOT NULL, note TEXT NOT NULL)""",
        "CREATE INDEX job_history_by_job ON {s}.job_history (job_id, seq)",
        """CREATE TABLE {s}.full_imports (
            kind TEXT NOT NULL, account_id BIGINT NOT NULL, job_id BIGINT NOT NULL,
            finished_at TIMESTAMPTZ NOT NULL, item_count BIGINT NOT NULL,
            PRIMARY KEY (kind, account_id))""",
        # Keys compare with the "C" collation: byte order, so index probes cost a memcmp
        # instead of a locale-aware comparison, and Python's sort order is index order.
        """CREATE TABLE {s}.item_versions (
            kind TEXT COLLATE "C" NOT NULL, item_key TEXT COLLATE "C" NOT NULL,
            fingerprint TEXT NOT NULL, version TEXT, PRIMARY KEY (kind, item_key))""",
        """CREATE TABLE {s}.inbox (
            item_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            dedup_key TEXT COLLATE "C" NOT NULL UNIQUE, event_type TEXT NOT NULL,
            payload BYTEA NOT NULL,
            received_at TIMESTAMPTZ NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, lease_owner TEXT,
            lease_expires_at TIMESTAMPTZ, available_at TIMESTAMPTZ NOT NULL,
            done_at TIMESTAMPTZ, last_error TEXT)""",
        # Claims scan open items in id order; done items (the bulk, until purged) are
        # outside this partial index, so a long history does not slow claims down.
        "CREATE INDEX inbox_open ON {s}.inbox (item_id) WHERE status <> 'done'",
        "CREATE INDEX inbox_done ON {s}.inbox (done_at) WHERE status = 'done'",
        """CREATE TABLE {s}.dedup_keys (
            dedup_key TEXT COLLATE "C" PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL)""",
        "CREATE INDEX dedup_keys_by_expiry ON {s}.dedup_keys (expires_at)",
        """CREATE TABLE {s}.dead_letters (
            letter_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, source TEXT NOT NULL,
            letter_key TEXT, payload BYTEA NOT NULL, error TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL, attempts INTEGER NOT NULL)""",
        "CREATE INDEX dead_letters_by_source ON {s}.dead_letters (source, letter_id)",
        """CREATE TABLE {s}.spool (
            job_id BIGINT PRIMARY KEY, path TEXT NOT NULL, size BIGINT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL, kind TEXT NOT NULL, header TEXT NOT NULL,
            digest TEXT NOT NULL)""",
        """CREATE TABLE {s}.locks (
            kind TEXT NOT NULL, account_id BIGINT NOT NULL, owner TEXT NOT NULL,
            acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (kind, account_id))""",
    ),
)
"""Ordered migrations; migration ``n`` (1-based) brings the schema to version ``n``.
``{s}`` stands for the quoted schema name. Append only: never edit a released migration."""

TABLES: Final = (
    "watermarks",
    "job_history",
    "jobs",
    "full_imports",
    "item_versions",
    "inbox",
    "dedup_keys",
    "dead_letters",
    "spool",
    "locks",
)
"""Every table of the current schema (children before parents)."""

# Bulk writes send keys as one text[] parameter per statement; 20k keys keep a statement well
# under a megabyte and the server's per-statement work short.
_KEY_CHUNK: Final = 20_000
# Fingerprint checks: statements of 1 000 keys, up to 16 in flight (see
# get_item_versions); measured on 200k keys, smaller statements overlap the server's
# probes with this process's decoding best (~1.3x one 10k-key statement).
_PROBE_CHUNK: Final = 1_000
_PROBE_DEPTH: Final = 16

_JOB_COLUMNS: Final = (
    "job_id, kind, is_full, account_id, submitted_at, item_count, payload_digest, "
    "payload_size, header, status, status_id, totals, inserts, updates, fail, started_at, "
    "finished_at, last_updated, polls, rerun_of, superseded_by"
)
_INBOX_COLUMNS: Final = (
    "item_id, dedup_key, event_type, payload, received_at, status, attempts, lease_owner, "
    "lease_expires_at, available_at, last_error"
)
_LETTER_COLUMNS: Final = "letter_id, source, letter_key, payload, error, created_at, attempts"
_SPOOL_COLUMNS: Final = "job_id, path, size, created_at, kind, header, digest"

_PENDING: Final = InboxStatus.PENDING.value
_LEASED: Final = InboxStatus.LEASED.value
_DONE: Final = InboxStatus.DONE.value


def _load_driver() -> tuple[Any, Any]:
    """``(psycopg, psycopg_pool)``, or a :class:`ConfigurationError` saying what to install."""
    try:
        import psycopg  # noqa: PLC0415 - optional dependency, imported on first use
        import psycopg_pool  # noqa: PLC0415
    except ImportError as exc:
        msg = (
            f"PostgresStore needs psycopg 3 and psycopg-pool ({exc}); install them with "
            f"{_INSTALL_HINT}"
        )
        raise ConfigurationError(msg) from exc
    return psycopg, psycopg_pool


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


def _utc_opt(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """Naive datetimes are UTC (as in the record types)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _job(row: Sequence[Any], history: tuple[JobObservation, ...] = ()) -> TrackedJob:
    return job_from_row(row, history, when=_utc, when_opt=_utc_opt)


def _inbox(row: Sequence[Any]) -> InboxItem:
    return inbox_from_row(row, when=_utc, when_opt=_utc_opt)


def _letter(r: Sequence[Any]) -> DeadLetter:
    return DeadLetter(r[0], r[1], r[2], bytes(r[3]), r[4], _utc(r[5]), r[6])


def _spool(r: Sequence[Any]) -> SpoolEntry:
    return SpoolEntry(r[0], r[1], r[2], _utc(r[3]), r[4], r[5], r[6])


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Transient(Exception):
    """A failure worth one more try on a fresh connection (carries the driver error)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def list_jobs_sql(
    *,
    kind: str | None,
    account_id: int | None,
    statuses: Iterable[TrackedStatus] | None,
    submitted_before: dt.datetime | None,
    submitted_after: dt.datetime | None,
    limit: int | None,
) -> tuple[str, list[Any]] | None:
    """The ``list_jobs`` statement and its parameters (pure; shared by both PostgreSQL
    stores). ``None`` when ``statuses`` is empty: nothing can match."""
    where: list[str] = []
    params: list[Any] = []
    if kind is not None:
        where.append("kind = %s")
        params.append(kind)
    if account_id is not None:
        where.append("account_id = %s")
        params.append(account_id)
    if statuses is not None:
        values = [TrackedStatus(s).value for s in statuses]
        if not values:
            return None
        where.append("status = ANY(%s)")
        params.append(values)
    if submitted_before is not None:
        where.append("submitted_at < %s")
        params.append(_aware(submitted_before))
    if submitted_after is not None:
        where.append("submitted_at > %s")
        params.append(_aware(submitted_after))
    sql = f"SELECT {_JOB_COLUMNS} FROM {{s}}.jobs"  # noqa: S608 - fixed columns
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY submitted_at DESC, job_id DESC"
    if limit is not None:
        sql += " LIMIT %s"
        params.append(int(limit))
    return sql, params


class PostgresStore:
    """The :class:`~norce_integration.stores.Store` on PostgreSQL, shared by many processes.

    Example:
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
    cannot be reached, or after :meth:`close`; no psycopg exception escapes.

    Raises:
        ConfigurationError: psycopg is not installed, the DSN cannot be parsed, or an
            argument is invalid.
        StoreError: the server cannot be reached, the schema cannot be created or
            migrated, or it was written by a newer SDK.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = DEFAULT_SCHEMA,
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
        if not _SCHEMA_NAME.match(schema):
            msg = f"schema must be a plain identifier (letters, digits, _), got {schema!r}"
            raise ConfigurationError(msg, setting="schema")
        if min_size < 0 or max_size < max(1, min_size):
            msg = f"need 0 <= min_size <= max_size and max_size >= 1, got {min_size}/{max_size}"
            raise ConfigurationError(msg, setting="max_size")
        try:
            params = psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            self._password = ""
            msg = f"the PostgreSQL DSN cannot be parsed: {self._scrub(str(exc), dsn)}"
            raise ConfigurationError(msg, setting=DSN_ENV) from None
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
        self._closed = False
        self._close_lock = threading.Lock()
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

        # Connect once directly: migrations need one connection, and a direct attempt
        # reports *why* the server is unreachable (the pool would only time out).
        self._migrate_with_retries()

        self._pool: ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            self._conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=pool_timeout,
            max_idle=max_idle,
            max_lifetime=max_lifetime,
            reconnect_timeout=max(pool_timeout, 60.0),
            kwargs={"autocommit": True, "prepare_threshold": prepare_threshold},
            configure=self._configure,
            name=f"norce-store-{schema}",
            open=False,
        )
        try:
            self._pool.open(wait=min_size > 0, timeout=max(connect_timeout, 1.0))
        except psycopg.Error as exc:
            self._pool.close()
            self._closed = True
            raise self._error("open the connection pool", exc) from None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_env(cls, **kwargs: Any) -> PostgresStore:
        """A store on ``NORCE_STORE_DSN`` (schema from ``NORCE_STORE_SCHEMA`` when set).

        Args:
            **kwargs: any other :class:`PostgresStore` argument.

        Raises:
            ConfigurationError: ``NORCE_STORE_DSN`` is unset or empty, or as the constructor.
            StoreError: as the constructor.
        """
        dsn = os.environ.get(DSN_ENV, "").strip()
        if not dsn:
            msg = "set it to the PostgreSQL connection string of the shared store"
            raise ConfigurationError(msg, setting=DSN_ENV)
        schema = os.environ.get(SCHEMA_ENV, "").strip()
        if schema and "schema" not in kwargs:
            kwargs["schema"] = schema
        return cls(dsn, **kwargs)

    def __repr__(self) -> str:
        return (
            f"PostgresStore(host={self.host!r}, port={self.port}, dbname={self.dbname!r}, "
            f"schema={self.schema!r})"
        )

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pool and all its connections. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def schema_version(self) -> int:
        """The schema version of the database."""
        row = self._one("read the schema version", "SELECT MAX(version) FROM {s}.schema_version")
        return int(row[0] or 0) if row is not None else 0

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
        return StoreError(f"PostgresStore: cannot {what} ({self._where}): {self._scrub(detail)}")

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

    def _configure(self, conn: Connection) -> None:
        # Timestamps come back in UTC; the records want UTC anyway.
        conn.execute("SET TIME ZONE 'UTC'")

    def _connect(self) -> Connection:
        conn: Connection = self._psycopg.connect(self._conninfo, autocommit=True)
        self._configure(conn)
        return conn

    def _migrate_with_retries(self) -> None:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(1 + self._retries),
            wait=tenacity.wait_exponential(multiplier=self._retry_wait, max=5.0),
            retry=tenacity.retry_if_exception_type(self._operational),
            reraise=True,
        )
        try:
            conn = retrying(self._connect)
        except self._errors as exc:
            raise self._error("connect", exc) from None
        try:
            self._migrate(conn)
        except self._errors as exc:
            raise self._error("create or migrate the schema", exc) from None
        finally:
            conn.close()

    def _migrate(self, conn: Connection) -> None:
        with conn.transaction():
            # Serialises migrations of this schema across processes; released at commit.
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"norce-integration migrate {self.schema}",),
            )
            conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
            conn.execute(
                self._q(
                    "CREATE TABLE IF NOT EXISTS {s}.schema_version (version INTEGER PRIMARY KEY, "
                    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
            )
            row = conn.execute(self._q("SELECT MAX(version) FROM {s}.schema_version")).fetchone()
            current = int(row[0] or 0) if row is not None else 0
            if current > len(MIGRATIONS):
                msg = (
                    f"{self._where} has schema version {current}; this SDK knows up to "
                    f"{len(MIGRATIONS)}. Upgrade norce-integration."
                )
                raise StoreError(msg)
            for version in range(current + 1, len(MIGRATIONS) + 1):
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(self._q(statement))
                conn.execute(
                    self._q("INSERT INTO {s}.schema_version (version) VALUES (%s)"), (version,)
                )
                log.info("migrated %s to schema version %d", self._where, version)

    def _attempt(self, fn: Callable[[Connection], T]) -> T:
        with self._pool.connection() as conn:
            try:
                return fn(conn)
            except self._operational as exc:
                if conn.broken or conn.closed:
                    raise _Transient(exc) from exc
                raise
            except self._retryable as exc:
                raise _Transient(exc) from exc

    def _before_retry(self, state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        log.warning(
            "PostgresStore: retrying after a lost connection or conflict (%s): %s",
            self._where,
            self._scrub(str(exc)),
        )
        # Drop every other stale connection too: after a server restart all of them are.
        try:
            self._pool.check()
        except self._errors:  # the server may still be down; the retry will tell
            log.debug("pool check failed", exc_info=True)

    def _run(self, what: str, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a pooled connection; retry transient failures; wrap errors."""
        if self._closed:
            msg = f"{self!r} is closed"
            raise StoreError(msg)
        try:
            return self._attempt(fn)
        except _Transient as first:
            if self._retries == 0:
                raise self._error(what, first) from first.cause
            self._before_retry_first(first)
        except self._errors as exc:
            raise self._error(what, exc) from exc
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._retries),
            wait=tenacity.wait_exponential(multiplier=self._retry_wait, max=5.0),
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            result: T = retrying(self._attempt, fn)
        except _Transient as exc:
            raise self._error(what, exc) from exc.cause
        except self._errors as exc:
            raise self._error(what, exc) from exc
        return result

    def _before_retry_first(self, exc: _Transient) -> None:
        log.warning(
            "PostgresStore: retrying on a fresh connection (%s): %s",
            self._where,
            self._scrub(str(exc)),
        )
        try:
            self._pool.check()
        except self._errors:
            log.debug("pool check failed", exc_info=True)

    def _one(
        self, what: str, template: str, params: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> tuple[Any, ...] | None:
        query = self._q(template)
        return self._run(what, lambda conn: conn.execute(query, params).fetchone())

    def _all(
        self,
        what: str,
        template: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        relaxed: bool = False,
    ) -> list[tuple[Any, ...]]:
        query = self._q(template)
        if relaxed and not self._durable_progress:
            return self._run(what, lambda conn: self._relaxed(conn, query, params).fetchall())
        return self._run(what, lambda conn: conn.execute(query, params).fetchall())

    def _count(
        self,
        what: str,
        template: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        relaxed: bool = False,
    ) -> int:
        """Rows affected by one statement (its own transaction)."""
        query = self._q(template)
        if relaxed and not self._durable_progress:
            return self._run(what, lambda conn: self._relaxed(conn, query, params).rowcount)
        return self._run(what, lambda conn: conn.execute(query, params).rowcount)

    @staticmethod
    def _relaxed(
        conn: Connection, query: str, params: Mapping[str, Any] | Sequence[Any] | None
    ) -> psycopg.Cursor[tuple[Any, ...]]:
        """One statement in a transaction that does not wait for the WAL flush.

        For progress only (leases, acks, dedup keys, purges): a server crash may forget
        the last fraction of a second of them, which at worst hands an event out again.
        Pipelined: BEGIN, SET LOCAL, the statement and COMMIT cost one round trip.
        """
        with conn.pipeline(), conn.transaction():
            conn.execute("SET LOCAL synchronous_commit TO off")
            # Results are read after the block: leaving it syncs the pipeline.
            return conn.execute(query, params)

    # ------------------------------------------------------------------ watermarks

    def get_watermark(self, kind: str, account_id: int, source: str) -> Watermark | None:
        """See :meth:`Store.get_watermark`."""
        row = self._one(
            "read a watermark",
            "SELECT value, version, updated_at FROM {s}.watermarks "
            "WHERE kind = %s AND account_id = %s AND source = %s",
            (kind, account_id, source),
        )
        if row is None:
            return None
        return Watermark(kind, account_id, source, row[0], row[1], _utc(row[2]))

    def compare_and_set_watermark(
        self,
        kind: str,
        account_id: int,
        source: str,
        *,
        expected: str | None,
        new: str,
        allow_backwards: bool = False,
    ) -> bool:
        """See :meth:`Store.compare_and_set_watermark`.

        One statement either way, so two hosts racing cannot both win.
        """
        params = self._p(
            kind=kind,
            account=account_id,
            source=source,
            expected=expected,
            new=new,
            back=allow_backwards,
        )
        if expected is None:
            return (
                self._count(
                    "set a watermark",
                    "INSERT INTO {s}.watermarks (kind, account_id, source, value, version, "
                    "updated_at) VALUES (%(kind)s, %(account)s, %(source)s, %(new)s, 1, {now}) "
                    "ON CONFLICT (kind, account_id, source) DO NOTHING",
                    params,
                )
                > 0
            )
        return (
            self._count(
                "set a watermark",
                "UPDATE {s}.watermarks SET value = %(new)s, version = version + 1, "
                "updated_at = {now} WHERE kind = %(kind)s AND account_id = %(account)s "
                "AND source = %(source)s AND value = %(expected)s "
                "AND (%(back)s OR %(new)s >= value)",
                params,
            )
            > 0
        )

    # ------------------------------------------------------------------ tracked jobs

    def _insert_history(self, conn: Connection, observations: Iterable[JobObservation]) -> None:
        rows = [
            (
                o.job_id,
                o.seen_at,
                o.status.value,
                o.status_id,
                _aware(o.last_updated),
                o.source,
                o.note,
            )
            for o in observations
        ]
        if rows:
            with conn.cursor() as cur:
                cur.executemany(
                    self._q(
                        "INSERT INTO {s}.job_history (job_id, seen_at, status, status_id, "
                        "last_updated, source, note) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    ),
                    rows,
                )

    def insert_job(self, job: TrackedJob) -> bool:
        """See :meth:`Store.insert_job`."""
        query = self._q(
            f"INSERT INTO {{s}}.jobs ({_JOB_COLUMNS}) VALUES ("  # noqa: S608 - fixed columns
            + ", ".join(["%s"] * 21)
            + ") ON CONFLICT (job_id) DO NOTHING"
        )
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
            _aware(job.started_at),
            _aware(job.finished_at),
            _aware(job.last_updated),
            job.polls,
            job.rerun_of,
            job.superseded_by,
        )

        def run(conn: Connection) -> bool:
            with conn.transaction():
                if conn.execute(query, values).rowcount == 0:
                    return False
                self._insert_history(conn, job.history)
                return True

        return self._run("insert a job", run)

    def record_job_status(
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
        select = self._q("SELECT status FROM {s}.jobs WHERE job_id = %s FOR UPDATE")
        update = self._q(
            "UPDATE {s}.jobs SET status = %(status)s, "
            "status_id = CASE WHEN %(changeable)s THEN COALESCE(%(status_id)s, status_id) "
            "ELSE status_id END, "
            "totals = COALESCE(%(totals)s, totals), inserts = COALESCE(%(inserts)s, inserts), "
            "updates = COALESCE(%(updates)s, updates), fail = COALESCE(%(fail)s, fail), "
            "started_at = COALESCE(%(started_at)s, started_at), "
            "finished_at = COALESCE(finished_at, %(finished_at)s), "
            "last_updated = COALESCE(%(last_updated)s, last_updated), "
            "polls = polls + %(add_polls)s WHERE job_id = %(job_id)s"
        )

        def run(conn: Connection) -> TrackedJob | None:
            with conn.transaction():
                row = conn.execute(select, (job_id,)).fetchone()
                if row is None:
                    return None
                current = TrackedStatus(row[0])
                # A final status is sticky: a late poll must not undo what an event settled.
                changeable = observation is not None and current not in FINAL_STATUSES
                status = current
                if observation is not None:
                    self._insert_history(conn, (observation,))
                    if changeable:
                        status = observation.status
                conn.execute(
                    update,
                    {
                        "status": status.value,
                        "changeable": changeable,
                        "status_id": None if observation is None else observation.status_id,
                        "totals": totals,
                        "inserts": inserts,
                        "updates": updates,
                        "fail": fail,
                        "started_at": _aware(started_at),
                        "finished_at": _aware(finished_at),
                        "last_updated": None
                        if observation is None
                        else _aware(observation.last_updated),
                        "add_polls": add_polls,
                        "job_id": job_id,
                    },
                )
                return self._load_job(conn, job_id, with_history=True)

        return self._run("record a job status", run)

    def _load_job(self, conn: Connection, job_id: int, *, with_history: bool) -> TrackedJob | None:
        if not with_history:
            row = conn.execute(
                self._q(f"SELECT {_JOB_COLUMNS} FROM {{s}}.jobs WHERE job_id = %s"),  # noqa: S608
                (job_id,),
            ).fetchone()
            return None if row is None else _job(row)
        # One statement, so the job and its history come from one snapshot.
        rows = conn.execute(
            self._q(
                "SELECT "
                + ", ".join(f"j.{c.strip()}" for c in _JOB_COLUMNS.split(","))
                + ", h.seen_at, h.status, h.status_id, h.last_updated, h.source, h.note "
                "FROM {s}.jobs j LEFT JOIN {s}.job_history h ON h.job_id = j.job_id "
                "WHERE j.job_id = %s ORDER BY h.seq"
            ),
            (job_id,),
        ).fetchall()
        if not rows:
            return None
        history = tuple(
            JobObservation(
                job_id=job_id,
                seen_at=_utc(r[21]),
                status=TrackedStatus(r[22]),
                status_id=r[23],
                last_updated=_utc_opt(r[24]),
                source=r[25],
                note=r[26],
            )
            for r in rows
            if r[21] is not None
        )
        return _job(rows[0][:21], history)

    def get_job(self, job_id: int, *, with_history: bool = True) -> TrackedJob | None:
        """See :meth:`Store.get_job`."""
        return self._run(
            "read a job", lambda conn: self._load_job(conn, job_id, with_history=with_history)
        )

    def list_jobs(
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
        query = list_jobs_sql(
            kind=kind,
            account_id=account_id,
            statuses=statuses,
            submitted_before=submitted_before,
            submitted_after=submitted_after,
            limit=limit,
        )
        if query is None:
            return []
        sql, params = query
        return [_job(row) for row in self._all("list jobs", sql, params)]

    def unresolved_jobs(
        self, *, kind: str | None = None, account_id: int | None = None
    ) -> list[TrackedJob]:
        """See :meth:`Store.unresolved_jobs`."""
        open_statuses = [s for s in TrackedStatus if s not in FINAL_STATUSES]
        jobs = self.list_jobs(kind=kind, account_id=account_id, statuses=open_statuses)
        return sorted(jobs, key=lambda j: (j.submitted_at, j.job_id))

    def mark_superseded(
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
        # One statement: the jobs marked and their history entries cannot diverge.
        params = self._p(
            superseded=TrackedStatus.SUPERSEDED.value,
            by=by_job_id,
            kind=kind,
            account=account_id,
            before=_aware(submitted_before),
            statuses=values,
            note=f"superseded by successful full import {by_job_id}",
        )
        rows = self._all(
            "mark jobs superseded",
            "WITH marked AS (UPDATE {s}.jobs SET status = %(superseded)s, superseded_by = %(by)s "
            "WHERE kind = %(kind)s AND account_id = %(account)s AND submitted_at < %(before)s "
            "AND job_id <> %(by)s AND status = ANY(%(statuses)s) RETURNING job_id), "
            "logged AS (INSERT INTO {s}.job_history (job_id, seen_at, status, status_id, "
            "last_updated, source, note) SELECT job_id, {now}, %(superseded)s, NULL, NULL, "
            "'local', %(note)s FROM marked ORDER BY job_id) "
            "SELECT job_id FROM marked ORDER BY job_id",
            params,
        )
        return [int(r[0]) for r in rows]

    # ------------------------------------------------------------------ full imports

    def get_last_full_import(self, kind: str, account_id: int) -> FullImportRecord | None:
        """See :meth:`Store.get_last_full_import`."""
        row = self._one(
            "read the last full import",
            "SELECT job_id, finished_at, item_count FROM {s}.full_imports "
            "WHERE kind = %s AND account_id = %s",
            (kind, account_id),
        )
        if row is None:
            return None
        return FullImportRecord(kind, account_id, row[0], _utc(row[1]), row[2])

    def set_last_full_import(self, record: FullImportRecord) -> bool:
        """See :meth:`Store.set_last_full_import`."""
        return (
            self._count(
                "record a full import",
                "INSERT INTO {s}.full_imports (kind, account_id, job_id, finished_at, item_count) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (kind, account_id) DO UPDATE SET "
                "job_id = excluded.job_id, finished_at = excluded.finished_at, "
                "item_count = excluded.item_count "
                "WHERE excluded.finished_at >= full_imports.finished_at",
                (
                    record.kind,
                    record.account_id,
                    record.job_id,
                    record.finished_at,
                    record.item_count,
                ),
            )
            > 0
        )

    # ------------------------------------------------------------------ item versions

    def get_item_versions(self, kind: str, keys: Sequence[str]) -> dict[str, ItemVersion]:
        """See :meth:`Store.get_item_versions`.

        Keys travel sorted, as binary ``text[]`` parameters of 1 000 keys, pipelined on
        one connection: the server probes the next chunk while this process decodes the last.
        Each key is one primary key probe in index order (the ``OFFSET 0`` keeps the
        planner from trading the probes for a scan of the whole kind when statistics are
        missing or stale, e.g. right after a bulk load).
        """
        result: dict[str, ItemVersion] = {}
        if not keys:
            return result
        query = self._q(
            "SELECT v.item_key, v.fingerprint, v.version FROM unnest(%b::text[]) AS k(key) "
            "CROSS JOIN LATERAL (SELECT item_key, fingerprint, version FROM {s}.item_versions "
            'WHERE kind = %s AND item_key = k.key COLLATE "C" OFFSET 0) AS v'
        )
        ordered = sorted(set(keys))

        def run(conn: Connection) -> dict[str, ItemVersion]:
            result.clear()  # a retry starts over
            if len(ordered) <= _PROBE_CHUNK:
                for key, fingerprint, version in conn.execute(query, (ordered, kind)).fetchall():
                    result[key] = ItemVersion(fingerprint, version)
                return result
            for window in _chunks(ordered, _PROBE_CHUNK * _PROBE_DEPTH):
                with conn.pipeline():
                    cursors = [
                        conn.cursor().execute(query, (list(chunk), kind))
                        for chunk in _chunks(window, _PROBE_CHUNK)
                    ]
                    for cur in cursors:
                        for key, fingerprint, version in cur.fetchall():
                            result[key] = ItemVersion(fingerprint, version)
                        cur.close()
            return result

        return self._run("read item versions", run)

    def put_item_versions(self, kind: str, versions: Mapping[str, ItemVersion]) -> None:
        """See :meth:`Store.put_item_versions`.

        Rows travel as three arrays per 20 000 items (``unnest``), sorted by key so two
        writers with overlapping keys lock rows in the same order and cannot deadlock.
        Unchanged rows are not rewritten.
        """
        if not versions:
            return
        query = self._q(
            "INSERT INTO {s}.item_versions (kind, item_key, fingerprint, version) "
            "SELECT %s, k, f, v FROM unnest(%b::text[], %b::text[], %b::text[]) AS t(k, f, v) "
            "ON CONFLICT (kind, item_key) DO UPDATE SET fingerprint = excluded.fingerprint, "
            "version = excluded.version WHERE (item_versions.fingerprint, item_versions.version) "
            "IS DISTINCT FROM (excluded.fingerprint, excluded.version)"
        )
        ordered = sorted(versions)

        def run(conn: Connection) -> None:
            with conn.transaction(), conn.cursor() as cur:
                for chunk in _chunks(ordered, _KEY_CHUNK):
                    cur.execute(
                        query,
                        (
                            kind,
                            list(chunk),
                            [versions[k].fingerprint for k in chunk],
                            [versions[k].version for k in chunk],
                        ),
                    )

        self._run("write item versions", run)

    def delete_item_versions(self, kind: str, keys: Sequence[str]) -> int:
        """See :meth:`Store.delete_item_versions`."""
        if not keys:
            return 0
        query = self._q("DELETE FROM {s}.item_versions WHERE kind = %s AND item_key = ANY(%b)")
        ordered = sorted(set(keys))

        def run(conn: Connection) -> int:
            deleted = 0
            with conn.transaction(), conn.cursor() as cur:
                for chunk in _chunks(ordered, _KEY_CHUNK):
                    cur.execute(query, (kind, list(chunk)))
                    deleted += cur.rowcount
            return deleted

        return self._run("delete item versions", run)

    def count_item_versions(self, kind: str) -> int:
        """See :meth:`Store.count_item_versions`."""
        row = self._one(
            "count item versions", "SELECT COUNT(*) FROM {s}.item_versions WHERE kind = %s", (kind,)
        )
        return int(row[0]) if row is not None else 0

    # ------------------------------------------------------------------ webhook inbox

    def inbox_append(self, dedup_key: str, event_type: str, payload: bytes) -> bool:
        """See :meth:`Store.inbox_append`."""
        return (
            self._count(
                "append to the inbox",
                "INSERT INTO {s}.inbox (dedup_key, event_type, payload, received_at, status, "
                "available_at) VALUES (%(key)s, %(type)s, %(payload)s, {now}, 'pending', {now}) "
                "ON CONFLICT (dedup_key) DO NOTHING",
                self._p(key=dedup_key, type=event_type, payload=bytes(payload)),
            )
            > 0
        )

    def inbox_append_many(
        self, entries: Sequence[tuple[str | None, str, str, bytes]], *, window: float
    ) -> list[bool]:
        """Append many events in one transaction, each checked against a dedup window.

        Not part of the :class:`Store` protocol (see :meth:`inbox_write`, which also takes
        dead letters).

        Args:
            entries: ``(dedup_key, inbox_key, event_type, payload)``; ``dedup_key`` is
                checked and remembered for ``window`` seconds like :meth:`dedup_add`
                (``None``: no window check), ``inbox_key`` is the inbox row's unique key.
            window: the dedup window in seconds (``<= 0``: no window check at all).

        Returns:
            Per entry, ``True`` if it was stored, ``False`` if its dedup key was still in
            its window (an earlier entry of the same call counts) or its inbox key exists.

        Raises:
            StoreError: the transaction failed; nothing was written.
        """
        return self.inbox_write(entries, window=window)[0]

    def inbox_write(
        self,
        entries: Sequence[tuple[str | None, str, str, bytes]],
        *,
        window: float,
        letters: Sequence[tuple[str, str | None, bytes, str]] = (),
    ) -> tuple[list[bool], list[int]]:
        """Appends and dead letters in one transaction (one commit for the whole group).

        Not part of the :class:`Store` protocol: this is what a webhook receiver's group
        commit needs on PostgreSQL: each redelivery check and its append atomic, a
        thousand events one commit, and rejected requests kept in the same transaction.

        Args:
            entries: as :meth:`inbox_append_many`.
            window: as :meth:`inbox_append_many`.
            letters: ``(source, key, payload, error)`` dead letters (``attempts`` 0).

        Returns:
            ``(stored, letter_ids)``: per entry whether it was stored (as
            :meth:`inbox_append_many`), and the id of each dead letter, in order.

        Raises:
            StoreError: the transaction failed; nothing was written.
        """
        if not entries and not letters:
            return [], []
        append = self._q(
            "WITH fresh AS (INSERT INTO {s}.dedup_keys (dedup_key, expires_at) "
            "SELECT %(dedup)s::text, {now} + %(window)s * interval '1 second' "
            "WHERE %(dedup)s::text IS NOT NULL ON CONFLICT (dedup_key) DO UPDATE "
            "SET expires_at = excluded.expires_at WHERE dedup_keys.expires_at <= {now} "
            "RETURNING 1) "
            "INSERT INTO {s}.inbox (dedup_key, event_type, payload, received_at, status, "
            "available_at) SELECT %(key)s, %(type)s, %(payload)s, {now}, 'pending', {now} "
            "WHERE %(dedup)s::text IS NULL OR EXISTS (SELECT 1 FROM fresh) "
            "ON CONFLICT (dedup_key) DO NOTHING RETURNING item_id"
        )
        letter = self._q(
            "INSERT INTO {s}.dead_letters (source, letter_key, payload, error, created_at, "
            "attempts) VALUES (%(source)s, %(key)s, %(payload)s, %(error)s, {now}, 0) "
            "RETURNING letter_id"
        )
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

        def results(cur: psycopg.Cursor[tuple[Any, ...]]) -> Iterator[tuple[Any, ...] | None]:
            while True:
                yield cur.fetchone()
                if not cur.nextset():
                    return

        def run(conn: Connection) -> tuple[list[bool], list[int]]:
            stored: list[bool] = []
            ids: list[int] = []
            with conn.transaction(), conn.cursor() as cur:
                if rows:
                    cur.executemany(append, rows, returning=True)
                    stored = [row is not None for row in results(cur)]
                if letter_rows:
                    cur.executemany(letter, letter_rows, returning=True)
                    ids = [int(row[0]) for row in results(cur) if row is not None]
            return stored, ids

        return self._run("append to the inbox", run)

    def dedup_expire(self, keys: Sequence[str]) -> int:
        """End the dedup window of ``keys`` now; returns how many were in their window.

        Not part of the :class:`Store` protocol: the event handler re-arms a key when its
        event is claimed (``dedup_until="claimed"``).
        """
        if not keys:
            return 0
        return self._count(
            "expire dedup keys",
            "UPDATE {s}.dedup_keys SET expires_at = {now} "
            "WHERE dedup_key = ANY(%(keys)s) AND expires_at > {now}",
            self._p(keys=sorted(set(keys))),
            relaxed=True,
        )

    def inbox_claim(self, owner: str, *, limit: int, lease: float) -> list[InboxItem]:
        """See :meth:`Store.inbox_claim`.

        ``FOR UPDATE SKIP LOCKED``: claimers on any number of hosts take disjoint batches
        without waiting for each other.
        """
        if limit <= 0:
            return []
        rows = self._all(
            "claim inbox items",
            "WITH picked AS (SELECT item_id FROM {s}.inbox WHERE status <> 'done' AND "
            "((status = 'pending' AND available_at <= {now}) OR "
            "(status = 'leased' AND lease_expires_at <= {now})) "
            "ORDER BY item_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
            "UPDATE {s}.inbox AS i SET status = 'leased', lease_owner = %(owner)s, "
            "lease_expires_at = {now} + %(lease)s * interval '1 second', "
            "attempts = i.attempts + 1 FROM picked WHERE i.item_id = picked.item_id "
            "RETURNING i.item_id, i.dedup_key, i.event_type, i.payload, i.received_at, "
            "i.status, i.attempts, i.lease_owner, i.lease_expires_at, i.available_at, "
            "i.last_error",
            self._p(owner=owner, limit=int(limit), lease=float(lease)),
            relaxed=True,
        )
        return sorted((_inbox(row) for row in rows), key=lambda i: i.item_id)

    def inbox_ack(self, item_id: int, owner: str) -> bool:
        """See :meth:`Store.inbox_ack`."""
        return self.inbox_ack_many((item_id,), owner) > 0

    def inbox_ack_many(self, item_ids: Sequence[int], owner: str) -> int:
        """Mark leased items done in one statement; returns how many ``owner`` still held.

        Not part of the :class:`Store` protocol (the event handler acknowledges batches).
        """
        if not item_ids:
            return 0
        return self._count(
            "acknowledge inbox items",
            "UPDATE {s}.inbox SET status = 'done', done_at = {now}, lease_owner = NULL, "
            "lease_expires_at = NULL WHERE item_id = ANY(%(ids)s) AND status = 'leased' "
            "AND lease_owner = %(owner)s AND lease_expires_at > {now}",
            self._p(ids=sorted(set(item_ids)), owner=owner),
            relaxed=True,
        )

    def inbox_release(
        self, item_id: int, owner: str, *, error: str | None = None, delay: float = 0.0
    ) -> bool:
        """See :meth:`Store.inbox_release`."""
        return self.inbox_release_many(((item_id, error, delay),), owner) > 0

    def inbox_release_many(
        self, releases: Sequence[tuple[int, str | None, float]], owner: str
    ) -> int:
        """Give leased items back in one statement: ``(item_id, error, delay)`` each.

        Returns how many ``owner`` still held. Not part of the :class:`Store` protocol.
        """
        if not releases:
            return 0
        latest = {item_id: (error, max(0.0, delay)) for item_id, error, delay in releases}
        ids = sorted(latest)
        return self._count(
            "release inbox items",
            "UPDATE {s}.inbox AS i SET status = 'pending', lease_owner = NULL, "
            "lease_expires_at = NULL, available_at = {now} + r.delay * interval '1 second', "
            "last_error = COALESCE(r.error, i.last_error) "
            "FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(delays)s::float8[]) "
            "AS r(item_id, error, delay) WHERE i.item_id = r.item_id AND i.status = 'leased' "
            "AND i.lease_owner = %(owner)s AND i.lease_expires_at > {now}",
            self._p(
                ids=ids,
                errors=[latest[i][0] for i in ids],
                delays=[float(latest[i][1]) for i in ids],
                owner=owner,
            ),
            relaxed=True,
        )

    def inbox_reclaim_expired(self) -> int:
        """See :meth:`Store.inbox_reclaim_expired`."""
        return self._count(
            "reclaim expired inbox leases",
            "UPDATE {s}.inbox SET status = 'pending', lease_owner = NULL, "
            "lease_expires_at = NULL, available_at = {now} "
            "WHERE status = 'leased' AND lease_expires_at <= {now}",
            self._p(),
            relaxed=True,
        )

    def inbox_get(self, item_id: int) -> InboxItem | None:
        """See :meth:`Store.inbox_get`."""
        row = self._one(
            "read an inbox item",
            f"SELECT {_INBOX_COLUMNS} FROM {{s}}.inbox WHERE item_id = %s",  # noqa: S608
            (item_id,),
        )
        return None if row is None else _inbox(row)

    def inbox_purge(self, *, done_before: dt.datetime) -> int:
        """See :meth:`Store.inbox_purge`."""
        return self._count(
            "purge the inbox",
            "DELETE FROM {s}.inbox WHERE status = 'done' AND done_at < %s",
            (_aware(done_before),),
            relaxed=True,
        )

    # ------------------------------------------------------------------ dedup keys

    def dedup_add(self, key: str, *, window: float) -> bool:
        """See :meth:`Store.dedup_add`."""
        # One upsert: a key whose window ended is renewed and counts as new.
        return (
            self._count(
                "add a dedup key",
                "INSERT INTO {s}.dedup_keys (dedup_key, expires_at) "
                "VALUES (%(key)s, {now} + %(window)s * interval '1 second') "
                "ON CONFLICT (dedup_key) DO UPDATE SET expires_at = excluded.expires_at "
                "WHERE dedup_keys.expires_at <= {now}",
                self._p(key=key, window=float(window)),
                relaxed=True,
            )
            > 0
        )

    def dedup_purge(self) -> int:
        """See :meth:`Store.dedup_purge`."""
        return self._count(
            "purge dedup keys",
            "DELETE FROM {s}.dedup_keys WHERE expires_at <= {now}",
            self._p(),
            relaxed=True,
        )

    # ------------------------------------------------------------------ dead letters

    def put_dead_letter(
        self,
        source: str,
        payload: bytes,
        error: str,
        *,
        key: str | None = None,
        attempts: int = 0,
    ) -> int:
        """See :meth:`Store.put_dead_letter`."""
        row = self._one(
            "store a dead letter",
            "INSERT INTO {s}.dead_letters (source, letter_key, payload, error, created_at, "
            "attempts) VALUES (%(source)s, %(key)s, %(payload)s, %(error)s, {now}, %(attempts)s) "
            "RETURNING letter_id",
            self._p(source=source, key=key, payload=bytes(payload), error=error, attempts=attempts),
        )
        assert row is not None
        return int(row[0])

    def list_dead_letters(
        self, *, source: str | None = None, limit: int | None = None
    ) -> list[DeadLetter]:
        """See :meth:`Store.list_dead_letters`."""
        sql = f"SELECT {_LETTER_COLUMNS} FROM {{s}}.dead_letters"  # noqa: S608 - fixed columns
        params: list[Any] = []
        if source is not None:
            sql += " WHERE source = %s"
            params.append(source)
        sql += " ORDER BY letter_id"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        return [_letter(r) for r in self._all("list dead letters", sql, params)]

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        """See :meth:`Store.get_dead_letter`."""
        row = self._one(
            "read a dead letter",
            f"SELECT {_LETTER_COLUMNS} FROM {{s}}.dead_letters WHERE letter_id = %s",  # noqa: S608
            (letter_id,),
        )
        return None if row is None else _letter(row)

    def delete_dead_letter(self, letter_id: int) -> bool:
        """See :meth:`Store.delete_dead_letter`."""
        return (
            self._count(
                "delete a dead letter",
                "DELETE FROM {s}.dead_letters WHERE letter_id = %s",
                (letter_id,),
            )
            > 0
        )

    # ------------------------------------------------------------------ payload spool index

    def put_spool_entry(self, entry: SpoolEntry) -> None:
        """See :meth:`Store.put_spool_entry`."""
        self._count(
            "write a spool entry",
            f"INSERT INTO {{s}}.spool ({_SPOOL_COLUMNS}) "  # noqa: S608 - fixed columns
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (job_id) DO UPDATE SET "
            "path = excluded.path, size = excluded.size, created_at = excluded.created_at, "
            "kind = excluded.kind, header = excluded.header, digest = excluded.digest",
            (
                entry.job_id,
                entry.path,
                entry.size,
                entry.created_at,
                entry.kind,
                entry.header,
                entry.digest,
            ),
        )

    def get_spool_entry(self, job_id: int) -> SpoolEntry | None:
        """See :meth:`Store.get_spool_entry`."""
        row = self._one(
            "read a spool entry",
            f"SELECT {_SPOOL_COLUMNS} FROM {{s}}.spool WHERE job_id = %s",  # noqa: S608
            (job_id,),
        )
        return None if row is None else _spool(row)

    def list_spool_entries(self) -> list[SpoolEntry]:
        """See :meth:`Store.list_spool_entries`."""
        return [
            _spool(r)
            for r in self._all(
                "list spool entries",
                f"SELECT {_SPOOL_COLUMNS} FROM {{s}}.spool ORDER BY created_at, job_id",  # noqa: S608
            )
        ]

    def delete_spool_entry(self, job_id: int) -> bool:
        """See :meth:`Store.delete_spool_entry`."""
        return (
            self._count(
                "delete a spool entry", "DELETE FROM {s}.spool WHERE job_id = %s", (job_id,)
            )
            > 0
        )

    # ------------------------------------------------------------------ in-flight locks

    def acquire_lock(self, kind: str, account_id: int, owner: str, *, ttl: float) -> bool:
        """See :meth:`Store.acquire_lock`.

        One upsert whose update only applies to the same owner or an expired lock; the
        conflicting row is locked and re-checked, so two hosts racing cannot both win.
        """
        return (
            self._count(
                "acquire an in-flight lock",
                "INSERT INTO {s}.locks (kind, account_id, owner, acquired_at, expires_at) "
                "VALUES (%(kind)s, %(account)s, %(owner)s, {now}, "
                "{now} + %(ttl)s * interval '1 second') "
                "ON CONFLICT (kind, account_id) DO UPDATE SET owner = excluded.owner, "
                # The same owner extending a live lock keeps its original acquisition time.
                "acquired_at = CASE WHEN locks.owner = excluded.owner "
                "AND locks.expires_at > {now} THEN locks.acquired_at "
                "ELSE excluded.acquired_at END, expires_at = excluded.expires_at "
                "WHERE locks.owner = excluded.owner OR locks.expires_at <= {now}",
                self._p(kind=kind, account=account_id, owner=owner, ttl=float(ttl)),
            )
            > 0
        )

    def release_lock(self, kind: str, account_id: int, owner: str) -> bool:
        """See :meth:`Store.release_lock`."""
        return (
            self._count(
                "release an in-flight lock",
                "DELETE FROM {s}.locks WHERE kind = %s AND account_id = %s AND owner = %s",
                (kind, account_id, owner),
            )
            > 0
        )

    def lock_holder(self, kind: str, account_id: int) -> InFlightLock | None:
        """See :meth:`Store.lock_holder`."""
        row = self._one(
            "read an in-flight lock",
            "SELECT owner, acquired_at, expires_at FROM {s}.locks "
            "WHERE kind = %(kind)s AND account_id = %(account)s AND expires_at > {now}",
            self._p(kind=kind, account=account_id),
        )
        if row is None:
            return None
        return InFlightLock(kind, account_id, row[0], _utc(row[1]), _utc(row[2]))
