# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/patterns/imports/_async_runs.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""Pending import runs and their resolution by an operator: :class:`AsyncImportRuns`,
written once for asyncio; :class:`ImportRuns` (``_sync_runs.py``) is generated from it.

A run killed between writing its journal and recording its job id is proven by the next
run of its source (see the engine's module docs). When it cannot be proven either way
it is *held*: every import of its kind and account is refused with
:class:`~norce_integration.RunHeldError` until an operator, having looked in Norce
(the Admin's integration status, or ``Job/List``), says what happened:

* :meth:`AsyncImportRuns.adopt` (``norce-integration jobs adopt RUN JOB_ID``): that job
  is the run's. It is tracked, the journal names it, and the next run (or ``resume()``)
  waits for it and settles the run by its outcome (the watermark moves only if it
  succeeded);
* :meth:`AsyncImportRuns.resolve` with ``sent=False`` (``import resolve RUN
  --not-sent``): no job was created. The run is rolled back, its watermark untouched,
  and the next run sends its records again;
* ``sent=True`` (``--sent``): a job was created but cannot be named. The run settles as
  failed (the watermark stays: the next run sends again, at least once); for a full
  import this is refused while ``Job/List`` shows an unfinished job the run may own,
  so a second full import never races it.
"""

from __future__ import annotations

import datetime as dt

import attrs

from ..._exceptions import ConfigurationError, ImportRefusedError
from ..._sync_client import Norce
from ...connect import SubmittedImport
from ...connect.models import ImportKind, JobResponse
from ...stores import Store
from ..jobs import JobTracker
from ._core import (
    JOB_LIST_PAGE,
    RUN_NAMESPACE,
    Journal,
    adopt_job,
    after_not_sent,
    utc,
)
from ._spool import remove_file


__all__ = ["ImportRuns", "PendingRun"]


@attrs.frozen(kw_only=True)
class PendingRun:
    """A run whose journal is still in the store (not settled yet).

    Attributes:
        run_id: the run.
        kind: import kind.
        account_id: system account.
        source: source name.
        mode: ``"full"``, ``"delta"`` or ``"fingerprint"``.
        phase: ``submitting``, ``submitted``, ``aborted`` or ``held``.
        written_at: when the journal was written (before the first POST).
        groups: items per job.
        jobs: job ids known.
        held: why it is held (empty unless ``phase == "held"``).
        candidates: jobs ``Job/List`` showed that may be the run's.
    """

    run_id: str
    kind: str
    account_id: int
    source: str
    mode: str
    phase: str
    written_at: dt.datetime
    groups: tuple[int, ...]
    jobs: tuple[int, ...]
    held: str = ""
    candidates: tuple[int, ...] = ()

    @property
    def in_doubt(self) -> bool:
        """True when a group's POST may or may not have created a job."""
        return self.phase == "held" or (
            self.phase == "submitting" and len(self.jobs) < len(self.groups)
        )


def _pending(key: str, journal: Journal) -> PendingRun:
    kind, account, source = key.split(":", 2)
    return PendingRun(
        run_id=journal.run_id,
        kind=kind,
        account_id=int(account),
        source=source,
        mode=journal.mode,
        phase=journal.phase,
        written_at=utc(journal.submit_at),
        groups=journal.groups,
        jobs=journal.jobs,
        held=journal.held,
        candidates=journal.candidates,
    )


class ImportRuns:
    """The pending import runs of a store, and the operator's resolutions.

    Args:
        store: the state store.
        norce: the client (needed by :meth:`adopt` and by ``resolve(sent=True)`` of a
            full import, which read Connect's job service).
        tracker: the job tracker that records an adopted job (default: a new one).
    """

    def __init__(
        self,
        store: Store,
        norce: Norce | None = None,
        *,
        tracker: JobTracker | None = None,
    ) -> None:
        self.store = store
        self.norce = norce
        self.tracker = tracker

    def list(self) -> list[PendingRun]:
        """Every pending run, by kind, account and source.

        Raises:
            StoreError: the store failed.
        """
        out: list[PendingRun] = []
        for key, text in (self.store.kv_list(RUN_NAMESPACE)).items():
            journal = _parse(text)
            if journal is not None:
                out.append(_pending(key, journal))
        return out

    def get(self, run_id: str) -> PendingRun:
        """The pending run ``run_id``.

        Raises:
            ConfigurationError: no such pending run.
            StoreError: the store failed.
        """
        key, _, journal = self._find(run_id)
        return _pending(key, journal)

    def adopt(self, run_id: str, job_id: int, *, force: bool = False) -> PendingRun:
        """Declare ``job_id`` the job of ``run_id``'s group in doubt.

        The job must exist in Connect, be newer than the highest job id listed before
        the run's POST (when known), carry the group's item count and not be tracked
        already with another payload; ``force`` skips the last three checks.

        Raises:
            ConfigurationError: no such run, no client, or the run has no group in doubt.
            ImportRefusedError: rule ``adopt``: the job fails a check.
            NotFoundError: Connect has no such job.
            APIError: ``Job/Get`` failed.
            StoreError: the store failed.
        """
        key, text, journal = self._find(run_id)
        group = _group_in_doubt(run_id, journal)
        norce = self._client("adopt")
        job = norce.connect.get_job(job_id)
        kind, account = key.split(":", 2)[:2]
        count = journal.groups[group]
        tracked = self.store.get_job(job_id, with_history=False)
        digest = journal.digests[group] if group < len(journal.digests) else ""
        problems: list[str] = []
        if journal.floor is not None and job_id <= journal.floor:
            problems.append(
                f"job {job_id} existed before the run's POST (job {journal.floor} was the "
                "newest then)"
            )
        if job.totals not in (None, 0, count):
            problems.append(f"job {job_id} has {job.totals} items; the run sent {count}")
        if tracked is not None and (
            # "unknown": watched by id before (jobs watch), never submitted through a tracker
            tracked.kind not in (kind, "unknown")
            or (digest and tracked.payload_digest not in ("", digest))
        ):
            problems.append(f"job {job_id} is tracked already as another payload")
        if journal.jobs and job_id in journal.jobs:
            problems.append(f"job {job_id} is already the run's job for an earlier group")
        if problems and not force:
            msg = "; ".join(problems) + " (pass force=True / --force to adopt it anyway)"
            raise ImportRefusedError(msg, rule="adopt")
        if tracked is None:
            tracker = self.tracker or JobTracker(norce, self.store)
            tracker.track(
                SubmittedImport(
                    ImportKind(kind),
                    JobResponse(job_id=job_id),
                    count,
                    0,
                    digest,
                    journal.header,
                ),
                full=journal.full,
                account_id=int(account),
            )
        after = adopt_job(journal, job_id)
        self._replace(key, text, after, run_id)
        return _pending(key, after)

    def resolve(self, run_id: str, *, sent: bool) -> PendingRun | None:
        """Resolve ``run_id``'s group in doubt without a job id.

        ``sent=False``: no job was created; the run is rolled back (returns ``None``)
        or, when earlier groups have jobs, aborted (settled as failed once they end).
        ``sent=True``: a job was created but cannot be named; the run settles as failed
        just the same (its records are sent again by the next run), and for a full
        import it is refused while ``Job/List`` shows an unfinished job it may own.

        Raises:
            ConfigurationError: no such run, or the run has no group in doubt, or a full
                import's ``sent=True`` without a client.
            ImportRefusedError: rule ``in-flight``: a job the full import may own runs.
            APIError: ``Job/List`` failed.
            StoreError: the store failed.
        """
        key, text, journal = self._find(run_id)
        _group_in_doubt(run_id, journal)
        if sent and journal.full:
            self._refuse_if_running(run_id, journal)
        after = after_not_sent(journal)
        if after is None:
            self._replace(key, text, None, run_id)
            remove_file(journal.spool)
            if journal.versions != journal.spool:
                remove_file(journal.versions)
            return None
        self._replace(key, text, after, run_id)
        return _pending(key, after)

    # --------------------------------------------------------------- internals

    def _client(self, what: str) -> Norce:
        if self.norce is None:
            raise ConfigurationError(f"{what} reads Connect's job service: give a client")
        return self.norce

    def _find(self, run_id: str) -> tuple[str, str, Journal]:
        for key, text in (self.store.kv_list(RUN_NAMESPACE)).items():
            journal = _parse(text)
            if journal is not None and journal.run_id == run_id:
                return key, text, journal
        msg = f"no pending import run {run_id!r} in the store (it settled, or never existed)"
        raise ConfigurationError(msg, setting="run")

    def _replace(self, key: str, text: str, journal: Journal | None, run_id: str) -> None:
        new = None if journal is None else journal.dumps()
        if not self.store.kv_compare_and_set(RUN_NAMESPACE, key, text, new):
            msg = f"run {run_id} changed while it was being resolved; look at it again"
            raise ImportRefusedError(msg, rule="in-flight")

    def _refuse_if_running(self, run_id: str, journal: Journal) -> None:
        norce = self._client("resolve --sent of a full import")
        since = utc(journal.submit_at - 60.0)
        tracked = {j.job_id for j in self.store.list_jobs(submitted_after=since)}
        running: list[int] = []
        skip = 0
        while True:
            page = norce.connect.list_jobs(skip=skip, take=JOB_LIST_PAGE)
            running.extend(
                j.job_id
                for j in page
                if (journal.floor is None or j.job_id > journal.floor)
                and j.job_id not in tracked
                and not j.status.is_terminal
            )
            ids = [j.job_id for j in page]
            if (
                len(page) < JOB_LIST_PAGE
                or (journal.floor is not None and min(ids) <= journal.floor)
                or skip >= 20 * JOB_LIST_PAGE
            ):
                break
            skip += JOB_LIST_PAGE
        if running:
            msg = (
                f"run {run_id} is a full import and Job/List shows unfinished job(s) "
                f"{sorted(running)} it may own; wait until they end (or adopt one) so that "
                "no second full import runs beside it"
            )
            raise ImportRefusedError(msg, rule="in-flight")


def _parse(text: str) -> Journal | None:
    if not text:
        return None
    try:
        return Journal.loads(text)
    except (ValueError, TypeError):
        return None


def _group_in_doubt(run_id: str, journal: Journal) -> int:
    group = journal.open_group if journal.phase != "held" else len(journal.jobs)
    if group is None or group >= len(journal.groups):
        msg = (
            f"run {run_id} is {journal.phase} with every job it sent known; nothing to "
            "resolve (the next run or resume() settles it)"
        )
        raise ConfigurationError(msg, setting="run")
    return group
