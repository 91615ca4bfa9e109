"""The sweep function's work: the hourly reconcile and evaluation of every rule, then the checks that
were due (guardian.scheduling); or, when a one-time schedule asks for it, the evaluation of one space (or
one owner, or one resource) the moment its grace ends. A resource's failure is the resource's (logged,
counted, skipped), never the sweep's: the next sweep starts over from the table."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from guardian import members
from guardian.arns import Location, canonical
from guardian.evaluation import EvaluationReport, evaluate
from guardian.kinds import Kind
from guardian.reconcile import SweepReport, reconcile
from guardian.resource import Resource
from guardian.resume import Budget
from guardian.runtime import Guardian
from guardian.scheduling import check_done, settle_checks


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    space_arn: str | None = None
    owner_arn: str | None = None
    resource_arn: str | None = None  # one resource whose grace or limit ends (guardian.judging)
    at: datetime | None = None  # the moment it was scheduled for: judged as of then, at the earliest
    check: str | None = None  # the check it runs (guardian.scheduling): marked done once judged

    @model_validator(mode="after")
    def _something(self) -> "Scope":
        if not (self.space_arn or self.owner_arn or self.resource_arn):
            raise ValueError("an evaluation names a space_arn, an owner_arn or a resource_arn")
        return self


class SweepRequest(BaseModel):
    """The sweep's input: Scheduler's hourly event (anything), {"evaluate": {"space_arn": ...}}, or a hub's
    sweep of one member account and region ({"account": "111111111111", "region": "eu-west-1"}: the fan-out's
    child; either left out is the hub's own)."""

    model_config = ConfigDict(extra="ignore")

    evaluate: Scope | None = None
    # The fan-out's first step ({"targets": true}): the accounts and regions to sweep (guardian.fanout).
    targets: bool = False
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")


@dataclass
class SweepResult:
    sweep: SweepReport | None
    evaluation: EvaluationReport
    checks: dict[str, int] | None = None
    # A located sweep's (the fan-out's child): where, and what kept it out (None: it was reached and swept).
    location: Location | None = None
    unreachable: str | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"evaluation": self.evaluation.as_dict()}
        if self.sweep:
            result |= self.sweep.as_dict()
        if self.checks is not None:
            result["checks"] = self.checks
        if self.location:
            result["location"] = {"account": self.location.account, "region": self.location.region}
            result["reached"] = self.unreachable is None
            if self.unreachable:
                result["unreachable"] = self.unreachable
        return result


def sweep(
    guardian: Guardian, now: datetime, request: SweepRequest | None = None, budget: Budget | None = None
) -> SweepResult:
    """``budget``: the invocation's time (guardian.resume); a pass that does not fit continues next run."""
    if request and request.evaluate:
        scope = request.evaluate
        guardian = guardian.at_arn(scope.space_arn or scope.owner_arn or scope.resource_arn or "")
        moment = max(now, scope.at or now)
        evaluation = evaluate(guardian, scoped(guardian, scope), moment, complete=False)
        if scope.check:
            check_done(guardian, scope.check, now, by="schedule")
        return SweepResult(None, evaluation)
    located = None
    if request and (request.account or request.region):
        hub, guardian = guardian, guardian.at(request.account, request.region)
        located = guardian.location()
        if guardian.hub is not None:  # reached once first: a member the team must fix is reported, not failed
            if problem := members.reach(guardian):
                members.report_unreachable(hub, located, problem, now)
                return SweepResult(None, EvaluationReport(), location=located, unreachable=problem.code)
            members.report_reached(hub, located, now)
    report = reconcile(guardian, now, guardian.location(), budget=budget)
    if not report.finished:
        # Judged once the pass is whole; a check due now is left open for the sweep that judges it.
        return SweepResult(report, EvaluationReport(), location=located)
    evaluation = evaluate(guardian, report.resources, now, complete=True, unknown_kinds=frozenset(report.unknown_kinds))
    # After the evaluation of everything as of now: what was due by now has been judged.
    return SweepResult(report, evaluation, settle_checks(guardian, now), location=located)


def scoped(guardian: Guardian, scope: Scope) -> list[Resource]:
    """The resources of one space, one owner or one resource, and the records their rules look up."""
    resources: dict[str, Resource] = {}
    if scope.space_arn:
        space_arn = canonical(scope.space_arn)
        resources |= {r.arn: r for r in guardian.inventory.by_space(space_arn)}
        space = resources.get(space_arn) or guardian.inventory.get(space_arn)
        if space and space.owner_arn:
            # The owner's resources that belong to no space may be orphaned by this space's stop (when it was
            # the owner's last running one); what belongs to another space is that space's to judge.
            resources |= {r.arn: r for r in guardian.inventory.by_owner(space.owner_arn, outside_spaces=True)}
    if scope.owner_arn:
        resources |= {r.arn: r for r in guardian.inventory.by_owner(canonical(scope.owner_arn))}
    if scope.resource_arn and (resource := guardian.inventory.get(canonical(scope.resource_arn))):
        resources[resource.arn] = resource
    return [r for r in resources.values() if r.kind is not Kind.USER_PROFILE]
