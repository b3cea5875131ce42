"""Admitting answers: at most as many at once as there are slots, in arrival order."""

from __future__ import annotations

import threading
import time

import pytest

from workanalytics.store.admission import FairSlots


def _wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_more_than_n_hold_a_slot_at_once(n: int):
    slots = FairSlots(n)
    lock = threading.Lock()
    inside, most = 0, 0

    def work() -> None:
        nonlocal inside, most
        for _ in range(20):
            with slots:
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == n
    assert inside == 0


def test_waiters_are_let_in_in_the_order_they_came():
    """One slot, so what the waiters do inside happens in the order they were let in."""
    slots = FairSlots(1)
    release = threading.Event()
    order: list[int] = []

    def holder() -> None:
        with slots:
            release.wait()

    def waiter(i: int) -> None:
        with slots:
            order.append(i)

    holders = [threading.Thread(target=holder)]
    for t in holders:
        t.start()
    _wait_until(lambda: slots._free == 0)
    waiters = []
    for i in range(6):
        t = threading.Thread(target=waiter, args=(i,))
        t.start()
        waiters.append(t)
        _wait_until(lambda i=i: len(slots._waiting) == i + 1)  # queued before the next comes
    release.set()
    for t in holders + waiters:
        t.join()
    assert order == list(range(6))
    assert slots._free == 1  # the slot came back


def test_a_slot_comes_back_when_the_holder_fails():
    slots = FairSlots(1)
    with pytest.raises(RuntimeError), slots:
        raise RuntimeError("the answer failed")
    done = threading.Event()

    def next_one() -> None:
        with slots:
            done.set()

    t = threading.Thread(target=next_one)
    t.start()
    assert done.wait(5)
    t.join()


def test_there_is_at_least_one_slot():
    with pytest.raises(ValueError):
        FairSlots(0)
