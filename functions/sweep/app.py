"""Sweep: the scheduled reconcile that lists what exists and repairs what events missed."""

import os
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.typing import LambdaContext
from guardian.observability import logger, metrics
from guardian.runtime import from_env
from guardian.sweep import sweep


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return sweep(from_env(os.environ), now=datetime.now(UTC)).as_dict()
