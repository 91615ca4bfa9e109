"""Ingest: one EventBridge event (CloudTrail API call or service state change) -> the inventory."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from guardian import clock
from guardian.ingest import ingest_event
from guardian.observability import logger, metrics
from guardian.runtime import from_env


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return ingest_event(event, from_env(os.environ), now=clock.now()).as_dict()
