"""Adaptive throttling at its edges: its config, the window's end, when it draws randomness.

p = max(0, (requests - k * accepts) / (requests + 1)) over the last `window_s`; the rng is
drawn only when p > 0 and a request leaves when the draw is >= p.
"""

from __future__ import annotations

import random
import re

import pytest

from policies.errors import PolicyConfigError
from policies.throttle import AdaptiveThrottle, ThrottlePolicy


class Draws(random.Random):
    """A random source that answers `value` and counts how often it was asked."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value
        self.draws = 0

    def random(self) -> float:
        self.draws += 1
        return self.value


def answers(t: AdaptiveThrottle, now: float, accepted: int, refused: int) -> None:
    for _ in range(accepted):
        t.record_answer(now, accepted=True)
    for _ in range(refused):
        t.record_answer(now, accepted=False)


def test_the_policy_builds_a_throttle_with_its_k_and_window() -> None:
    t = ThrottlePolicy(k=1.0, window_s=10.0).build()
    answers(t, 0.0, accepted=1, refused=1)
    assert t.reject_probability(9.9) == pytest.approx(1 / 3)  # (2 - 1 * 1) / (2 + 1)
    assert t.reject_probability(10.0) == 0.0


def test_the_defaults_are_the_books_k_2_over_two_minutes() -> None:
    t = AdaptiveThrottle()
    answers(t, 0.0, accepted=1, refused=3)
    assert t.reject_probability(119.9) == pytest.approx(0.4)  # (4 - 2 * 1) / (4 + 1)
    assert t.reject_probability(120.0) == 0.0


def test_an_accept_leaves_the_window_exactly_window_s_later() -> None:
    t = AdaptiveThrottle(k=2.0, window_s=10.0)
    answers(t, 0.0, accepted=1, refused=0)
    answers(t, 5.0, accepted=0, refused=3)
    assert t.reject_probability(9.5) == pytest.approx(2 / 5)  # (4 - 2) / 5
    assert t.reject_probability(10.0) == pytest.approx(3 / 4)  # the accept is gone: 3 / 4


def test_a_refusal_leaves_the_window_exactly_window_s_later() -> None:
    t = AdaptiveThrottle(k=2.0, window_s=10.0)
    answers(t, 0.0, accepted=0, refused=2)
    answers(t, 5.0, accepted=0, refused=1)
    assert t.reject_probability(9.5) == pytest.approx(3 / 4)
    assert t.reject_probability(10.0) == pytest.approx(1 / 2)


def test_no_randomness_is_drawn_while_nothing_is_throttled() -> None:
    """A seed replays a run only if the draws do not depend on whether p was zero."""
    t = AdaptiveThrottle(k=2.0, window_s=10.0)
    answers(t, 0.0, accepted=1, refused=1)  # (2 - 2 * 1) / 3: p is exactly zero
    rng = Draws(0.0)  # a draw would throttle at any p > 0
    assert all(t.allow(0.0, rng) for _ in range(5)) and rng.draws == 0


def test_a_draw_equal_to_p_lets_the_request_leave() -> None:
    t = AdaptiveThrottle(k=1.0, window_s=10.0)
    answers(t, 0.0, accepted=0, refused=1)  # p = 1 / 2
    assert t.allow(0.0, Draws(0.5)) is True
    assert t.reject_probability(0.0) == 0.5  # an allowed request counts once answered
    assert t.allow(0.0, Draws(0.99)) is True
    assert t.allow(0.0, Draws(0.49)) is False  # throttled: it counts as a request now
    assert t.reject_probability(0.0) == pytest.approx(2 / 3)


@pytest.mark.parametrize("build,message", [
    (lambda: AdaptiveThrottle(k=0.5), "throttle.k must be a finite number >= 1 (got 0.5)"),
    (lambda: AdaptiveThrottle(window_s=0.0),
     "throttle.window_s must be a finite number > 0 (got 0.0)"),
    (lambda: AdaptiveThrottle(window_s=float("nan")),
     "throttle.window_s must be a finite number > 0 (got nan)"),
])
def test_bad_parameters_are_refused_in_one_sentence(build: object, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=re.escape(message) + "$"):
        build()  # type: ignore[operator]
