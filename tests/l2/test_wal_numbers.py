"""The write-ahead log numbers its records in the order written, on SQLite (one
executemany, the numbers read back under the write lock) and on PostgreSQL
(RETURNING), while another thread appends records of its own."""

from __future__ import annotations

import threading

from l2gpu.db import open_database
from l2gpu.node.wal import WriteAheadLog


def test_group_commits_get_the_numbers_of_their_records(database_url) -> None:
    url, schema = database_url
    log = WriteAheadLog(open_database(url, schema=schema))
    written: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def groups() -> None:
        try:
            for g in range(40):
                payloads = [f"g{g}-{i}".encode() for i in range(1 + g % 7)]
                numbers = log.append_envelopes(payloads)
                assert numbers == sorted(numbers)
                written.update(zip(numbers, payloads, strict=True))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def singles() -> None:
        try:
            for s in range(40):
                written[log.append("l1_op", f"s{s}".encode())] = f"s{s}".encode()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=groups), threading.Thread(target=singles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    records = list(log.records())
    assert len(records) == len(written) == 40 + sum(1 + g % 7 for g in range(40))
    # Each number names the record written with it, in the order they were written.
    assert {seq: payload for seq, _kind, payload in records} == written
    assert [seq for seq, _k, _p in records] == sorted(written)
    assert log.append_envelopes([]) == []
