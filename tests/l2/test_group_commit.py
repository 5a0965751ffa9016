"""Group commit: concurrent submitters share commits, in log order, and a failed
write acknowledges nothing."""

from __future__ import annotations

import threading

import pytest

from l2gpu.node.group_commit import GroupCommit


class Log:
    """A log that records each commit's size, and can be told to fail."""

    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.commits: list[int] = []
        self.fail = False
        self.enter = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def write(self, payloads: list[bytes]) -> list[int]:
        self.enter.set()
        self.release.wait(10)
        if self.fail:
            raise OSError("disk full")
        start = len(self.records)
        self.records.extend(payloads)
        self.commits.append(len(payloads))
        return list(range(start + 1, start + 1 + len(payloads)))


def test_concurrent_submitters_share_commits_in_log_order() -> None:
    log, queued, failed = Log(), [], []
    group = GroupCommit(log.write, lambda items, _n: queued.extend(items),
                        lambda items, _e: failed.extend(items))  # fmt: skip
    log.release.clear()  # hold the first commit so the others pile up behind it
    first = group.add(b"0", 0)
    leader = threading.Thread(target=group.wait, args=(first,))
    leader.start()
    log.enter.wait(10)
    acks: dict[int, int] = {}

    def submit(i: int) -> None:
        acks[i] = group.wait(group.add(str(i).encode(), i))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(1, 51)]
    for t in threads:
        t.start()
    log.release.set()
    for t in [leader, *threads]:
        t.join(10)
    assert len(log.records) == 51
    assert log.commits[0] == 1
    assert len(log.commits) < 51  # the 50 waiting ones shared commits
    # The node saw them in the order the log holds them.
    assert [str(i).encode() for i in queued] == log.records
    assert all(log.records[acks[i] - 1] == str(i).encode() for i in acks)
    assert failed == []


def test_a_failed_write_acknowledges_nothing() -> None:
    log, queued, failed = Log(), [], []
    group = GroupCommit(log.write, lambda items, _n: queued.extend(items),
                        lambda items, _e: failed.extend(items))  # fmt: skip
    log.fail = True
    with pytest.raises(OSError, match="disk full"):
        group.wait(group.add(b"x", "x"))
    assert (queued, failed) == ([], ["x"])
    log.fail = False
    assert group.wait(group.add(b"y", "y")) == 1  # the next write works
