"""`guardian simulate`: template.yaml's whole stack on the embedded sandbox over simulated time, driven by a
scenario, and what happened as lines (README, "Simulate: what would enforce have done?").

    scenario.py             the scenario file: read, checked (errors name the step), placeholders
    deployment.py           template.yaml with the scenario's parameters: conditions, schedules
    schedule_expressions.py rate() and cron() as EventBridge Scheduler reads them
    runner.py               the clock, the steps, the schedules, and what each sets off
    stopped_clock.py        simulated time standing still within a moment
    bus.py                  the default bus: the calls (while a trail logs) and the services' state changes
    stream.py               the table's stream, read as a second consumer
    log.py                  the output lines (finding, message, action, skipped, summary)
"""

import contextlib
import gc
from collections.abc import Callable, Iterator
from pathlib import Path

from guardian_sandbox import dynamodb_queries, embedded
from guardian_sandbox.simulation.log import Line, SummaryLine
from guardian_sandbox.simulation.runner import Simulation
from guardian_sandbox.simulation.scenario import Scenario, ScenarioError, load

__all__ = ["Line", "Scenario", "ScenarioError", "SummaryLine", "load", "simulate", "simulate_file"]


def simulate(
    scenario: Scenario,
    emit: Callable[[Line], None],
    warn: Callable[[str], None],
    rule_overrides: list[str] | None = None,
    region: str = "us-east-1",
) -> SummaryLine:
    """Run ``scenario`` on a fresh embedded sandbox; each line goes to ``emit`` as it happens."""
    with embedded(region) as clients, dynamodb_queries.installed(), _fewer_collections():
        return Simulation(scenario, clients, emit, warn, rule_overrides).run()


def simulate_file(
    path: Path,
    emit: Callable[[Line], None],
    warn: Callable[[str], None],
    parameters: dict[str, str] | None = None,
    rule_overrides: list[str] | None = None,
) -> SummaryLine:
    """The scenario in ``path`` (YAML or JSON), with ``parameters`` over its own."""
    return simulate(load(path).with_parameters(parameters or {}), emit, warn, rule_overrides)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Every sandbox call allocates thousands of objects: collecting the youngest ones less often, and never
    walking what was loaded before the run (moto's and botocore's models, frozen as the tests' conftest
    freezes them), saves a tenth of the time."""
    threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
