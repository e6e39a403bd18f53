"""Child process of the SIGKILL test: claim a batch, send part of it, then hang.

Usage: ``python event_crash_worker.py BASE_URL STORE_PATH SENT_LOG``. The worker claims
every pending event (lease 60 s), sends the first ten entities (appending their PartNo to
SENT_LOG), prints ``HANGING`` on the second send and sleeps until the test kills it with
SIGKILL, still holding the claims and the target's lock.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from norce_integration import Norce, NorceSettings
from norce_integration.patterns import EventHandler
from norce_integration.stores import SqliteStore


class HangingTarget:
    event_types = ("SkuChangedNotification",)
    select = ("PartNo",)
    name = "search"
    max_batch = 10

    def __init__(self, sent_log: str) -> None:
        self.sent_log = sent_log
        self.calls = 0

    def map(self, entity: Any) -> Any:
        return entity.part_no

    def send(self, batch: Sequence[Any]) -> None:
        self.calls += 1
        if self.calls == 1:
            with open(self.sent_log, "a", encoding="utf-8") as log:
                log.write("".join(f"{p}\n" for p in batch))
                log.flush()
                os.fsync(log.fileno())
            return
        print("HANGING", flush=True)
        time.sleep(3600)


def main(base_url: str, store_path: str, sent_log: str) -> None:
    settings = NorceSettings(
        client_id="norce-emulator",
        client_secret="emulator-secret",
        application_id=1042,
        account_id=1,
        connect_url=f"{base_url}/commerce/connect/4.0/",
        query_url=f"{base_url}/commerce/query/2.0/",
        token_url=f"{base_url}/identity/1.0/connect/token",
    )
    with Norce(settings) as norce, SqliteStore(store_path) as store:
        handler = EventHandler(
            norce, store, targets=[HangingTarget(sent_log)], lease=60.0, batch_size=500
        )
        handler.run_once()
    print("UNEXPECTED: the batch finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
