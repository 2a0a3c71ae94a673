"""The kernel client's reconnect schedule, without sockets."""

from __future__ import annotations

import pytest

from rt_jupyter.client.retry import reconnect_delay, recoverable


@pytest.mark.parametrize("code", [None, 1001, 1006, 1011, 1012, 1013])
def test_server_and_network_failures_are_recoverable(code: int | None) -> None:
    assert recoverable(code, renew=False)


@pytest.mark.parametrize("code", [1000, 1002, 1008, 4000])
def test_a_normal_or_policy_close_is_final_unless_the_session_is_renewed(code: int) -> None:
    assert not recoverable(code, renew=False)
    assert recoverable(code, renew=True)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    middle = [reconnect_delay(n, (0.1, 1.0), renew=False, jitter=lambda: 0.5) for n in (1, 2, 3)]
    assert middle == pytest.approx([0.1, 0.2, 0.4])
    assert reconnect_delay(6, (0.1, 1.0), renew=False, jitter=lambda: 0.5) == pytest.approx(1.0)
    assert reconnect_delay(1, (0.1, 1.0), renew=False, jitter=lambda: 0.0) == pytest.approx(0.05)
    assert reconnect_delay(9, (0.1, 1.0), renew=False, jitter=lambda: 0.99) == pytest.approx(1.49)


def test_renewing_an_expired_session_starts_at_once() -> None:
    assert reconnect_delay(1, (0.1, 5.0), renew=True, jitter=lambda: 0.9) == 0.0
    assert reconnect_delay(2, (0.1, 5.0), renew=True, jitter=lambda: 0.5) == pytest.approx(0.2)
