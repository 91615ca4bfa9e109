"""A sweep's time (guardian.resume.Budget): it keeps a margin for what follows its last page, a tenth of the
invocation's time and at most two minutes, and is spent once only the margin is left."""

from dataclasses import dataclass

import pytest

from guardian.resume import MARGIN_SECONDS, Budget


@dataclass
class Context:
    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.mark.parametrize(
    ("start", "margin"), [(3_600_000, MARGIN_SECONDS), (900_000, 90.0), (60_000, 6.0), (3_000, 0.3)]
)
def test_the_margin_is_a_tenth_of_the_invocation_at_most_two_minutes(start, margin):
    context = Context(start)
    budget = Budget.of(context)
    assert budget.margin == margin and not budget.spent()
    context.remaining_ms = int(margin * 1000) + 1
    assert not budget.spent()
    context.remaining_ms = int(margin * 1000)
    assert budget.spent()
