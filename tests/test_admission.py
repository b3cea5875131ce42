"""Admitting answers: at most as many at once as there are slots, in arrival order, and no
slot lost to a waiter that gives up."""

from __future__ import annotations

import threading
import time

import pytest

from workanalytics.store import admission
from workanalytics.store.admission import FairSlots


def _wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _start(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)  # a hang fails, not blocks
    thread.start()
    return thread


def _join(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive(), "still waiting for a slot"


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

    _join(*[_start(work) for _ in range(8)])
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

    holding = _start(holder)
    _wait_until(lambda: slots._free == 0)
    waiters = []
    for i in range(6):
        waiters.append(_start(waiter, i))
        _wait_until(lambda i=i: len(slots._waiting) == i + 1)  # queued before the next comes
    release.set()
    _join(holding, *waiters)
    assert order == list(range(6))
    assert slots._free == 1  # the slot came back


def test_a_newcomer_does_not_jump_the_queue():
    """The holder leaves and at once asks again: the waiter already in line goes first."""
    slots = FairSlots(1)
    order: list[str] = []
    slots.__enter__()
    waiter = _start(lambda: (slots.__enter__(), order.append("waiter"), slots.__exit__()))
    _wait_until(lambda: len(slots._waiting) == 1)
    slots.__exit__()
    again = _start(lambda: (slots.__enter__(), order.append("newcomer"), slots.__exit__()))
    _join(waiter, again)
    assert order == ["waiter", "newcomer"]


def test_a_slot_comes_back_when_the_holder_fails():
    slots = FairSlots(1)
    with pytest.raises(RuntimeError), slots:
        raise RuntimeError("the answer failed")
    done = threading.Event()

    def next_one() -> None:
        with slots:
            done.set()

    _join(_start(next_one))
    assert done.is_set()


@pytest.mark.parametrize("handed_over", [False, True])
def test_a_waiter_interrupted_loses_no_slot(monkeypatch, handed_over: bool):
    """Interrupted while in line (Ctrl-C), before or after the slot reached it: the slot
    goes on to the next in line, or back to the free ones."""
    interrupted = threading.Event()

    class Interrupted(threading.Event):
        def wait(self, timeout=None):
            if handed_over:
                super().wait()
            interrupted.set()
            raise KeyboardInterrupt

    slots = FairSlots(1)
    slots.__enter__()
    monkeypatch.setattr(admission, "Event", Interrupted)

    def impatient() -> None:
        with pytest.raises(KeyboardInterrupt), slots:
            pass

    waiting = _start(impatient)
    if handed_over:
        _wait_until(lambda: len(slots._waiting) == 1)
        slots.__exit__()  # hands the slot to the waiter, who is then interrupted
    else:
        assert interrupted.wait(5)
        slots.__exit__()
    _join(waiting)
    assert slots._free == 1 and not slots._waiting
    monkeypatch.undo()
    entered = threading.Event()
    _join(_start(lambda: (slots.__enter__(), entered.set(), slots.__exit__())))
    assert entered.is_set()


def test_there_is_at_least_one_slot():
    with pytest.raises(ValueError):
        FairSlots(0)
