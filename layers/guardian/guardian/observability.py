"""Logger and metrics, created once for the whole core (Powertools reads its settings from the
environment: POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL)."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "studio-cost-guardian"
NAMESPACE = "StudioCostGuardian"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["MetricUnit", "logger", "metrics"]
