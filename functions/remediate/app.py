"""Remediate (deployed only when RemediationMode is not off): act on findings whose grace has ended."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from guardian import clock
from guardian.observability import logger, metrics
from guardian.remediation import remediate
from guardian.runtime import from_env


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return remediate(from_env(os.environ), now=clock.now()).as_dict()
