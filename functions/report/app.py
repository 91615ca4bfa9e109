"""Report: on the weekly schedule, the ISO week just ended (or {"week": "2026-W47"} to redo one)."""

import os
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from guardian import clock
from guardian.observability import logger, metrics
from guardian.runtime import from_env
from guardian.weekly import ReportRequest, weekly


@logger.inject_lambda_context
@metrics.log_metrics
@event_parser(model=ReportRequest)
def handler(event: ReportRequest, context: LambdaContext) -> dict[str, Any]:
    return weekly(from_env(os.environ), clock.now(), week=event.week, accounts=event.accounts).as_dict()
