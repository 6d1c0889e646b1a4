"""The garbage collector, set for a long-running server process (the entry points call ``tune``).

CPython's default (a young-generation collection every 700 net allocations) suits scripts. A
chat server allocates hundreds of short-lived objects per message, almost all freed by their
reference counts at once, and keeps a large, slowly changing heap of sockets and sessions. With
the default, collections took about 25 µs of every one-to-one message, a tenth of its CPU, and
the full ones, which walk that whole heap, paused the event loop for about 100 ms each
(docs/performance.md). Rarer young collections let the short-lived objects die first, and
freezing what exists at start-up (modules, the app, the schema) keeps the full ones from
walking it again and again.
"""

from __future__ import annotations

import gc

# Net allocations between young collections (CPython: 700). A young collection walks at most
# this many objects: a few milliseconds.
YOUNG_THRESHOLD = 20_000
# A middle collection every 20 young ones, a full one every 20 middle ones at most (CPython: 10,
# 10); CPython also holds a full one back until the old generation grew by a quarter.
OLDER_THRESHOLDS = (20, 20)


def tune() -> None:
    """Move everything alive now out of the collector's way and make young collections rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
