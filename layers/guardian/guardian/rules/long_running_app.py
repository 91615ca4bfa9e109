"""long-running-app: a Studio app InService longer than the limit while built-in idle shutdown is off or
above the limit. LastUserActivityTimestamp is not used: it moves with health checks, not people."""

from datetime import datetime, timedelta

from pydantic import Field

from guardian.arns import location_of
from guardian.kinds import Kind
from guardian.resource import Resource
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext, iso

BILLED_APP_TYPES = {"JupyterLab", "CodeEditor", "KernelGateway", "RStudioServerPro", "RSessionGateway", "Canvas"}
IDLE_SHUTDOWN_APP_TYPES = {"JupyterLab", "CodeEditor"}  # the only ones with built-in idle shutdown


class LongRunningAppConfig(RuleConfig):
    limit_hours: int = Field(default=12, ge=1)


class LongRunningApp(Rule[LongRunningAppConfig]):
    name = "long-running-app"
    adjective = "Long-running"
    Config = LongRunningAppConfig
    kinds = frozenset({Kind.APP})
    remediable = True

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        if resource.state != "InService" or resource.app_type not in BILLED_APP_TYPES or not resource.created_at:
            return None
        limit = timedelta(hours=self.config.limit_hours)
        if context.now - resource.created_at <= limit:
            return None
        idle_shutdown = self._idle_shutdown_minutes(resource, context)
        if idle_shutdown is not None and idle_shutdown <= self.config.limit_hours * 60:
            return None  # Studio stops it itself when idle
        setting = "off" if idle_shutdown is None else f"{idle_shutdown} min (above the limit)"
        # When it started, not how long it has run: the finding stays as written while the app runs on, and
        # messages say the uptime as of when they are read.
        evidence = {
            "app_type": resource.app_type,
            "started_at": iso(resource.created_at),
            "limit_hours": self.config.limit_hours,
            "idle_shutdown": setting,
        }
        return Detection(
            self.name,
            resource,
            resource.created_at + limit,
            f"{resource.app_type} running past the {self.config.limit_hours} h limit, idle shutdown {setting}",
            evidence,
        )

    def next_check(self, resource: Resource, context: RuleContext) -> datetime | None:
        """When an app in service passes the limit, unless idle shutdown stops it first."""
        if resource.state != "InService" or resource.app_type not in BILLED_APP_TYPES or not resource.created_at:
            return None
        due = resource.created_at + timedelta(hours=self.config.limit_hours)
        idle_shutdown = self._idle_shutdown_minutes(resource, context)
        if idle_shutdown is not None and idle_shutdown <= self.config.limit_hours * 60:
            return None
        return due if due > context.now else None

    @staticmethod
    def _idle_shutdown_minutes(resource: Resource, context: RuleContext) -> int | None:
        """The space's own idle timeout; a JupyterLab space without one takes its owner's default (a private
        space's), else its domain's, as Studio does (UpdateUserProfile, UpdateDomain)."""
        if resource.app_type not in IDLE_SHUTDOWN_APP_TYPES or not resource.studio_space:
            return None
        location = location_of(resource.arn)
        space = context.lookup(location.space(resource.domain_id or "", resource.studio_space))
        if space is None or space.idle_timeout_minutes is not None or resource.app_type != "JupyterLab":
            return space.idle_timeout_minutes if space else None
        owner = context.lookup(space.owner_arn) if space.owner_arn and space.sharing != "Shared" else None
        if owner is not None and owner.idle_timeout_minutes is not None:
            return owner.idle_timeout_minutes
        domain = context.lookup(location.domain(resource.domain_id or ""))
        return domain.idle_timeout_minutes if domain else None
