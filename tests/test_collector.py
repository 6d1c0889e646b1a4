"""The garbage collector's settings for a server process."""

from __future__ import annotations

import gc
import weakref

import pytest

from chatserver import collector


@pytest.fixture
def restored_collector():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tune_freezes_what_exists_and_makes_young_collections_rarer(restored_collector):
    assert gc.get_threshold()[0] < collector.YOUNG_THRESHOLD
    collector.tune()
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *collector.OLDER_THRESHOLDS)
    assert gc.get_freeze_count() > 1000  # the modules, the app: kept out of every collection


def test_objects_in_cycles_are_still_collected_after_tuning(restored_collector):
    collector.tune()

    class Node:
        pass

    first, second = Node(), Node()
    first.other, second.other = second, first
    alive = [first]
    del first, second
    ref = weakref.ref(alive.pop())
    assert ref() is not None
    gc.collect()
    assert ref() is None
