"""Sweep: the scheduled reconcile and rule evaluation, or one space's evaluation when its grace ends; in a hub,
the fan-out's list of accounts and regions, and the sweep of each."""

import os
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from guardian import clock
from guardian.fanout import targets
from guardian.observability import logger, metrics
from guardian.resume import Budget
from guardian.runtime import from_env
from guardian.sweep import SweepRequest, sweep


@logger.inject_lambda_context
@metrics.log_metrics
@event_parser(model=SweepRequest)
def handler(event: SweepRequest, context: LambdaContext) -> dict[str, Any]:
    guardian = from_env(os.environ)
    if event.targets:  # the fan-out's first step: what its Map sweeps, one child each
        return {"targets": targets(guardian)}
    budget = Budget.of(context)  # a pass longer than the invocation continues next run (guardian.resume)
    return sweep(guardian, now=clock.now(), request=event, budget=budget).as_dict()
