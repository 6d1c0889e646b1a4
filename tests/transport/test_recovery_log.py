"""The recovery packet log and sessions (transport/recovery.py) with plain values and a clock told when to move."""

from __future__ import annotations

import tracemalloc

from chatserver.transport.recovery import PacketLog, Session


class Clock:
    """A clock that only moves when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def session(sid: str = "s1", rooms=(None, "s1", "user:bob", "room:a")) -> Session:
    return Session(sid, "pid", "/", frozenset(rooms), None, 0.0)


def fill(log: PacketLog, *audiences) -> list[str]:
    """Append one packet per audience ``(to, skip)``; return their offsets."""
    offsets = []
    for to, skip in audiences:
        offset = log.reserve()
        log.append(f"2[\"e\",{offset}]", to, skip, "/")
        offsets.append(offset)
    return offsets


def test_offsets_count_up_and_the_missed_packets_are_those_of_the_sessions_rooms_in_order():
    log = PacketLog(window=120, max_bytes=1 << 20, clock=Clock())
    offsets = fill(log, ("user:bob", [None]), (None, [None]), ("room:b", [None]), ("room:a", ["s1"]),
                   ("room:a", [None]), (["room:b", "user:bob"], [None]))
    assert offsets == ["1", "2", "3", "4", "5", "6"]
    assert log.after("0", session()) == ['2["e",1]', '2["e",2]', '2["e",5]', '2["e",6]'], \
        "not another room's, not one that skipped this socket"
    assert log.after("2", session()) == ['2["e",5]', '2["e",6]']
    assert log.after("6", session()) == []
    assert log.after("1", Session("s2", "p", "/other", frozenset({None}), None, 0)) == [], "another namespace's"


def test_an_offset_is_served_only_while_everything_after_it_is_kept():
    clock = Clock()
    log = PacketLog(window=10, max_bytes=1 << 20, clock=clock)
    fill(log, (None, [None]), (None, [None]))
    assert log.can_serve("0") and log.can_serve("1") and log.can_serve("2")
    assert not log.can_serve("3"), "an offset this node never gave"
    for bad in ("", "x", "-1", "1.5", "9" * 30):
        assert not log.can_serve(bad)
    clock.now += 11
    fill(log, (None, [None]))  # the first two are older than the window now
    assert [entry[0] for entry in log.entries] == [3]
    assert log.can_serve("2"), "the client has 2; everything after it is kept"
    assert not log.can_serve("1"), "2 is gone: the client would miss it"


def test_the_log_keeps_at_most_its_bytes():
    each = 10 + PacketLog.ENTRY_OVERHEAD  # 10 characters of text each, and the objects that keep it
    log = PacketLog(window=120, max_bytes=4 * each, clock=Clock())
    fill(log, *[(None, [None])] * 10)
    assert log.bytes <= 4 * each
    assert [entry[0] for entry in log.entries] == [7, 8, 9, 10]


def test_the_bytes_counted_are_the_memory_the_log_holds():
    # A flood of small packets (429 answers) must not hold several times max_bytes in Python objects.
    log = PacketLog(window=120, max_bytes=1 << 30, clock=Clock())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(5000):
            offset = log.reserve()
            log.append(f'2["response",{{"command":"message","code":"429","n":{number}}},"{offset}"]',
                       f"sid{number % 7}", [None], "/")
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.7 * held <= log.bytes <= 1.5 * held, (log.bytes, held)
