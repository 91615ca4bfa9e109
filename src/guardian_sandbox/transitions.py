"""In-between states, as the services pass through them, for what moto makes or removes at once: endpoints
(Creating, Updating, Deleting), notebook instances (Pending, Stopping, Updating, Deleting), HyperPod clusters
(Creating, Updating, Deleting) and EMR clusters (STARTING, BOOTSTRAPPING, TERMINATING).

A change starts a passage: each in-between state shows for ``studio.settings.transition_seconds`` (the knob
Studio's own states use, and ``guardian sandbox --transition-seconds``), then the end state, or the resource is
gone. Passages are settled when the sandbox is next asked anything of these services, so what a describe or a
list answers is what the service would show at that moment of the sandbox's clock; the time the end was
reached is what the resource says (an endpoint's LastModifiedTime, an EMR cluster's ReadyDateTime and
EndDateTime). A change the service refuses while another is under way is refused with its error.

Each state a passage shows, in-between or end (not a resource's disappearance), is announced as the service's
own state-change event, dated when it was reached (service_events.py), once, even if it was passed between
two requests."""

import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from moto.core.responses import BaseResponse
from moto.emr.models import Cluster as EmrCluster
from moto.emr.models import ElasticMapReduceBackend, emr_backends
from moto.emr.responses import ElasticMapReduceResponse
from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    SageMakerModelBackend,
    sagemaker_backends,
)
from moto.sagemaker.responses import SageMakerResponse

from guardian_sandbox import service_events, studio

GONE = None  # a passage that ends with the resource deleted
_PASSAGE = "_sandbox_passage"
_ANNOUNCED = "_sandbox_announced"  # (the passage, how many of the states it showed were announced)
# The resources whose passage is under way, so that a request settles nothing when none is (a sweep of thousands
# of resources makes thousands of requests); weak, so a reset sandbox's resources leave with it.
_under_way: "weakref.WeakValueDictionary[int, Any]" = weakref.WeakValueDictionary()


def _naive(at: datetime) -> datetime:
    return at.replace(tzinfo=None)  # moto keeps naive UTC


def _modified(resource: Any, at: datetime) -> None:
    resource.last_modified_time = _naive(at)


def _emr_timeline(cluster: EmrCluster, at: datetime) -> None:
    if cluster.state in ("WAITING", "RUNNING"):
        cluster.ready_datetime = _naive(at)
    elif cluster.state and cluster.state.startswith("TERMINATED"):
        cluster.end_datetime = _naive(at)
        for group in cluster.instance_groups:  # a cluster's end is its groups' too
            group.state, group.end_date_time = "TERMINATED", _naive(at)


@dataclass(frozen=True)
class Change:
    attribute: str  # where moto keeps the state
    passing: tuple[str, ...]  # shown in turn, each for the transition time
    end: str | None
    done: Callable[[Any, datetime], None] | None = None  # what the end sets, at the moment it was reached


ENDPOINT_CREATE = Change("endpoint_status", ("Creating",), "InService", _modified)
ENDPOINT_UPDATE = Change("endpoint_status", ("Updating",), "InService", _modified)
ENDPOINT_DELETE = Change("endpoint_status", ("Deleting",), GONE)
NOTEBOOK_START = Change("status", ("Pending",), "InService", _modified)  # creating one starts it too
NOTEBOOK_STOP = Change("status", ("Stopping",), "Stopped", _modified)
NOTEBOOK_UPDATE = Change("status", ("Updating",), "Stopped", _modified)
NOTEBOOK_DELETE = Change("status", ("Deleting",), GONE)
HYPERPOD_CREATE = Change("status", ("Creating",), "InService")
HYPERPOD_UPDATE = Change("status", ("Updating",), "InService")
HYPERPOD_DELETE = Change("status", ("Deleting",), GONE)
EMR_START = Change("state", ("STARTING", "BOOTSTRAPPING"), "WAITING", _emr_timeline)
EMR_TERMINATE = Change("state", ("TERMINATING",), "TERMINATED", _emr_timeline)


@dataclass(frozen=True)
class _Passage:
    change: Change
    since: datetime

    def reached(self, now: datetime) -> tuple[str | None, datetime | None]:
        """The state shown at ``now``, and when the end was reached (None while still passing)."""
        step = timedelta(seconds=max(studio.settings.transition_seconds, 0))
        passing = self.change.passing
        elapsed = max(now - self.since, timedelta(0))  # a clock set back shows the change as just begun
        if step and elapsed < step * len(passing):
            return passing[int(elapsed / step)], None
        return self.change.end, self.since + step * len(passing)

    def shown(self, now: datetime) -> list[tuple[str | None, datetime]]:
        """Every state shown by ``now``, with when it was reached (an in-between state lasting no time is
        never shown)."""
        step = timedelta(seconds=max(studio.settings.transition_seconds, 0))
        states: list[tuple[str | None, datetime]] = (
            [(s, self.since + step * i) for i, s in enumerate(self.change.passing)] if step else []
        )
        states.append((self.change.end, self.since + step * len(self.change.passing)))
        return [(state, at) for state, at in states if at <= max(now, self.since)]


def _announce(resource: Any, passage: _Passage, now: datetime) -> None:
    """The service's event for each state ``passage`` showed by ``now`` and not yet announced."""
    announced_for, count = resource.__dict__.get(_ANNOUNCED, (None, 0))
    if announced_for is not passage:
        count = 0
    shown = passage.shown(now)
    for state, at in shown[count:]:
        if state is not GONE:
            user_request = passage.change.passing == EMR_TERMINATE.passing  # not the steps' end
            service_events.announce(resource, state, at, user_request=user_request)
    resource.__dict__[_ANNOUNCED] = (passage, len(shown))


def _advance(resource: Any, passage: _Passage, now: datetime) -> bool:
    """Show what ``passage`` shows at ``now``; True once it is over and the resource is gone."""
    state, ended = passage.reached(now)
    if ended is not None:
        resource.__dict__.pop(_PASSAGE, None)
        _under_way.pop(id(resource), None)
        if state is GONE:
            _announce(resource, passage, now)  # the in-between states it passed
            return True
    setattr(resource, passage.change.attribute, state)
    if ended is not None and passage.change.done is not None:
        passage.change.done(resource, ended)
    _announce(resource, passage, now)  # after what the end sets: its event carries it
    return False


def begin(resource: Any, change: Change) -> None:
    """``resource`` starts ``change`` now (a change under way is replaced). A deletion with no delay is
    settled by the next request, before anything reads the resource."""
    passage = _Passage(change, studio._now())
    resource.__dict__[_PASSAGE] = passage
    _under_way[id(resource)] = resource
    if _advance(resource, passage, passage.since):
        resource.__dict__[_PASSAGE] = passage  # gone when the next request settles its collection
        _under_way[id(resource)] = resource


def _settle(collection: dict[str, Any], now: datetime) -> None:
    for key, resource in list(collection.items()):
        passage = resource.__dict__.get(_PASSAGE)
        if passage is not None and _advance(resource, passage, now):
            del collection[key]


def settle(account: str, region: str) -> None:
    """Apply every passage due in this account and region, at the sandbox's clock."""
    if not _under_way:
        return
    now = studio._now()
    if account in sagemaker_backends and region in sagemaker_backends[account]:
        sagemaker = sagemaker_backends[account][region]
        for collection in (sagemaker.endpoints, sagemaker.notebook_instances, sagemaker.clusters):
            _settle(collection, now)
    if account in emr_backends and region in emr_backends[account]:
        _settle(emr_backends[account][region].clusters, now)


# --- the operations that start a passage -----------------------------------------------------------


def _endpoint(backend: SageMakerModelBackend, name: str) -> FakeEndpoint:
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(f"Could not find endpoint '{arn}'.")
    return endpoint


def _create_endpoint(original: Callable[..., FakeEndpoint]) -> Callable[..., FakeEndpoint]:
    def create_endpoint(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> FakeEndpoint:
        endpoint = original(self, *args, **kwargs)
        begin(endpoint, ENDPOINT_CREATE)
        return endpoint

    return create_endpoint


def _update_endpoint_weights(original: Callable[..., str]) -> Callable[..., str]:
    def update_endpoint_weights_and_capacities(
        self: SageMakerModelBackend, endpoint_name: str, *args: Any, **kwargs: Any
    ) -> str:
        endpoint = _endpoint(self, endpoint_name)
        if endpoint.endpoint_status != "InService":
            raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        arn = original(self, endpoint_name, *args, **kwargs)
        begin(endpoint, ENDPOINT_UPDATE)
        return arn

    return update_endpoint_weights_and_capacities


def _delete_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> None:
    endpoint = _endpoint(self, endpoint_name)
    if endpoint.endpoint_status != "Deleting":
        begin(endpoint, ENDPOINT_DELETE)


def _notebook(backend: SageMakerModelBackend, name: str, allowed: tuple[str, ...], going: str) -> Any:
    notebook = backend.get_notebook_instance(name)
    if notebook.status not in allowed:
        raise ValidationError(
            f"Status ({notebook.status}) not in ([{', '.join(allowed)}]). Unable to transition to ({going}) "
            f"for Notebook Instance ({notebook.arn})"
        )
    return notebook


def _create_notebook(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_notebook_instance(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        notebook = original(self, *args, **kwargs)
        begin(notebook, NOTEBOOK_START)
        return notebook

    return create_notebook_instance


def _start_notebook(self: SageMakerModelBackend, notebook_instance_name: str) -> None:
    begin(_notebook(self, notebook_instance_name, ("Stopped", "Failed"), "Pending"), NOTEBOOK_START)


def _stop_notebook(self: SageMakerModelBackend, notebook_instance_name: str) -> None:
    begin(_notebook(self, notebook_instance_name, ("InService",), "Stopping"), NOTEBOOK_STOP)


def _delete_notebook(self: SageMakerModelBackend, notebook_instance_name: str) -> None:
    begin(_notebook(self, notebook_instance_name, ("Stopped", "Failed"), "Deleting"), NOTEBOOK_DELETE)


def _run_job_flow(original: Callable[..., EmrCluster]) -> Callable[..., EmrCluster]:
    def run_job_flow(self: ElasticMapReduceBackend, **kwargs: Any) -> EmrCluster:
        cluster = original(self, **kwargs)
        end = cluster.state or "WAITING"  # WAITING, RUNNING (steps), or TERMINATED (nothing to keep it alive)
        passing = EMR_START.passing + (("TERMINATING",) if end == "TERMINATED" else ())
        cluster.ready_datetime = cluster.end_datetime = None
        begin(cluster, replace(EMR_START, passing=passing, end=end))
        return cluster

    return run_job_flow


def _terminate_job_flows(original: Callable[..., list[EmrCluster]]) -> Callable[..., list[EmrCluster]]:
    def terminate_job_flows(self: ElasticMapReduceBackend, job_flow_ids: list[str]) -> list[EmrCluster]:
        already = {
            i for i in job_flow_ids if i in self.clusters and (self.clusters[i].state or "").startswith("TERMINAT")
        }
        terminated = original(self, job_flow_ids)
        for cluster in terminated:
            if cluster.id not in already:
                cluster.end_datetime = None
                begin(cluster, EMR_TERMINATE)
        return terminated

    return terminate_job_flows


def _settled_first(original: Callable[..., Any]) -> Callable[..., Any]:
    def call_action(self: BaseResponse) -> Any:
        settle(self.current_account, self.region)
        return original(self)

    call_action._sandbox_transitions = True  # type: ignore[attr-defined]
    return call_action


_installed = False


def install() -> None:
    """Graft the passages onto moto (idempotent)."""
    global _installed
    if _installed:
        return
    backend = SageMakerModelBackend
    backend.create_endpoint = _create_endpoint(backend.create_endpoint)  # type: ignore[method-assign]
    backend.update_endpoint_weights_and_capacities = _update_endpoint_weights(  # type: ignore[method-assign]
        backend.update_endpoint_weights_and_capacities
    )
    backend.delete_endpoint = _delete_endpoint  # type: ignore[method-assign]
    backend.create_notebook_instance = _create_notebook(backend.create_notebook_instance)  # type: ignore[method-assign]
    backend.start_notebook_instance = _start_notebook  # type: ignore[method-assign]
    backend.stop_notebook_instance = _stop_notebook  # type: ignore[method-assign]
    backend.delete_notebook_instance = _delete_notebook  # type: ignore[method-assign]
    ElasticMapReduceBackend.run_job_flow = _run_job_flow(ElasticMapReduceBackend.run_job_flow)  # type: ignore[method-assign]
    ElasticMapReduceBackend.terminate_job_flows = _terminate_job_flows(  # type: ignore[method-assign]
        ElasticMapReduceBackend.terminate_job_flows
    )
    for response_class in (SageMakerResponse, ElasticMapReduceResponse, ResourceGroupsTaggingAPIResponse):
        if not getattr(response_class.call_action, "_sandbox_transitions", False):
            response_class.call_action = _settled_first(response_class.call_action)  # type: ignore[method-assign]
    from guardian_sandbox import endpoint_updates  # UpdateEndpoint, a passage of its own (it imports this module)

    endpoint_updates.install()
    _installed = True
