"""The relayed batches' order, restored without I/O (rt_jupyter.jupyter.relay.Reorder)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rt_jupyter.jupyter.relay import Gap, Reorder


def test_in_order_batches_pass_straight_through() -> None:
    relay: Reorder[str] = Reorder()
    assert relay.push(0, "a") == (["a"], [])
    assert relay.push(1, "b") == (["b"], [])
    assert not relay.holding


def test_an_early_batch_waits_for_the_one_before_it() -> None:
    relay: Reorder[str] = Reorder()
    relay.push(0, "a")
    assert relay.push(2, "c") == ([], [])
    assert relay.holding
    assert relay.push(1, "b") == (["b", "c"], [])
    assert not relay.holding


def test_a_missing_batch_is_a_gap_when_the_timer_expires() -> None:
    relay: Reorder[str] = Reorder()
    relay.push(0, "a")
    relay.push(3, "d")
    relay.push(2, "c")
    assert relay.expire() == (["c", "d"], [Gap(expected=1, got=2)])
    # the missing one, late: handed on at once, noted as out of order
    assert relay.push(1, "b") == (["b"], [Gap(expected=4, got=1)])
    assert relay.expire() == ([], [])


def test_too_many_held_skips_the_gap() -> None:
    relay: Reorder[int] = Reorder(max_held=3)
    relay.push(0, 0)
    for seq in (2, 3, 4):
        assert relay.push(seq, seq) == ([], [])
    assert relay.push(5, 5) == ([2, 3, 4, 5], [Gap(expected=1, got=2)])


def test_a_new_relay_starts_over() -> None:
    relay: Reorder[str] = Reorder()
    relay.push(0, "a")
    relay.push(1, "b")
    relay.push(5, "held")
    assert relay.push(0, "new") == (["new"], [])  # a page reloaded without a hello
    assert not relay.holding
    relay.push(1, "x")
    relay.reset()
    assert relay.push(0, "after hello") == (["after hello"], [])


def test_unnumbered_batches_are_handed_on() -> None:
    relay: Reorder[str] = Reorder()
    assert relay.push(None, "x") == (["x"], [])


@given(st.permutations(list(range(30))))
def test_any_arrival_order_is_handed_on_in_order_with_no_loss(order: list[int]) -> None:
    relay: Reorder[int] = Reorder(max_held=64)
    out: list[int] = []
    for seq in order:
        ready, gaps = relay.push(seq, seq)
        assert not gaps
        out.extend(ready)
    assert out == list(range(30)) and not relay.holding
