"""The SageMaker Studio APIs moto lacks, added to moto's SageMaker service.

User profiles, spaces and apps (Create/Describe/List/Update/Delete, tags on create, AddTags,
ListTags, DeleteTags), MLflow tracking servers, and EMR's auto-termination policy. State moves as
the real service's does: Pending -> InService after ``settings.transition_seconds``, Deleting ->
Deleted after the same delay, and a deleted app stays listable as Deleted for
``settings.deleted_app_retention_seconds`` (about a day, as on AWS). Errors carry the real codes
(ResourceNotFound, ResourceInUse, ValidationException, ConflictException). Every response is checked against
botocore's output shape before it is sent, so the sandbox cannot drift from the service model.

State lives on moto's own backend objects, so moto's reset (a new ``mock_aws``) clears it too.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import moto.emr.models as moto_emr_models
import moto.sagemaker.models as moto_sagemaker_models
from botocore.validate import ParamValidator
from moto.core.responses import ActionResult, EmptyResult
from moto.emr.models import ElasticMapReduceBackend
from moto.emr.responses import ElasticMapReduceResponse
from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
from moto.sagemaker.exceptions import ConflictException, ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import FakeEndpointConfig, FakeSagemakerNotebookInstance, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from guardian_sandbox import botocore_data, dynamodb, sns_email

APP_TYPES = {
    "JupyterServer",
    "KernelGateway",
    "DetailedProfiler",
    "TensorBoard",
    "CodeEditor",
    "JupyterLab",
    "RStudioServerPro",
    "RSessionGateway",
    "Canvas",
}
SPACE_APP_TYPES = {"JupyterLab", "CodeEditor", "JupyterServer", "KernelGateway", "RStudioServerPro", "Canvas"}
_APP_SETTINGS_KEY = {"JupyterLab": "JupyterLabAppSettings", "CodeEditor": "CodeEditorAppSettings"}


@dataclass
class SandboxSettings:
    transition_seconds: float = 2.0  # each in-between state, here and in transitions.py
    deleted_app_retention_seconds: float = 24 * 3600.0  # AWS lists a deleted app for about a day
    # The sandbox's clock runs this far from the real one while a scenario builds its past (see clock.py).
    clock_offset_seconds: float = 0.0


settings = SandboxSettings()


def _now() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=settings.clock_offset_seconds)


def _moto_utcnow() -> datetime:
    """moto's clock (naive UTC), moved with the sandbox's."""
    return _now().replace(tzinfo=None)


def _elapsed(since: datetime) -> bool:
    return _now() - since >= timedelta(seconds=settings.transition_seconds)


@dataclass
class _Lifecycle:
    """Status that moves by itself, as the service's does: Pending -> InService, Deleting -> Deleted."""

    # The clock is looked up when a resource is made, not when this class was: a simulation stops it.
    created: datetime = field(default_factory=lambda: _now())
    changed: datetime = field(default_factory=lambda: _now())
    target: str = "InService"  # where the current transition ends
    transient: str = "Pending"

    @property
    def status(self) -> str:
        return self.target if _elapsed(self.changed) else self.transient

    def move(self, transient: str, target: str) -> None:
        self.changed, self.transient, self.target = _now(), transient, target

    @property
    def deleted_for(self) -> timedelta | None:
        if self.target != "Deleted" or not _elapsed(self.changed):
            return None
        return _now() - self.changed - timedelta(seconds=settings.transition_seconds)


@dataclass
class UserProfile:
    arn: str
    domain_id: str
    name: str
    settings: dict[str, Any]
    tags: list[dict[str, str]]
    life: _Lifecycle = field(default_factory=_Lifecycle)

    def summary(self) -> dict[str, Any]:
        return {
            "DomainId": self.domain_id,
            "UserProfileName": self.name,
            "Status": self.life.status,
            "CreationTime": self.life.created,
            "LastModifiedTime": self.life.changed,
        }

    def describe(self) -> dict[str, Any]:
        return self.summary() | {"UserProfileArn": self.arn, "UserSettings": self.settings}


@dataclass
class Space:
    arn: str
    domain_id: str
    name: str
    settings: dict[str, Any]
    owner: str | None
    sharing: str
    display_name: str | None
    tags: list[dict[str, str]]
    life: _Lifecycle = field(default_factory=_Lifecycle)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "DomainId": self.domain_id,
            "SpaceName": self.name,
            "Status": self.life.status,
            "CreationTime": self.life.created,
            "LastModifiedTime": self.life.changed,
            "SpaceSharingSettingsSummary": {"SharingType": self.sharing},
            "SpaceSettingsSummary": {
                k: v for k, v in self.settings.items() if k in ("AppType", "SpaceStorageSettings", "RemoteAccess")
            },
        }
        if self.owner:
            summary["OwnershipSettingsSummary"] = {"OwnerUserProfileName": self.owner}
        if self.display_name:
            summary["SpaceDisplayName"] = self.display_name
        return summary

    def describe(self) -> dict[str, Any]:
        described = {k: v for k, v in self.summary().items() if not k.endswith("Summary")}
        described |= {
            "SpaceArn": self.arn,
            "SpaceSettings": self.settings,
            "SpaceSharingSettings": {"SharingType": self.sharing},
        }
        if self.owner:
            described["OwnershipSettings"] = {"OwnerUserProfileName": self.owner}
        return described


@dataclass
class App:
    arn: str
    domain_id: str
    profile: str | None
    space: str | None
    app_type: str
    name: str
    resource_spec: dict[str, Any]
    tags: list[dict[str, str]]
    life: _Lifecycle = field(default_factory=_Lifecycle)

    def summary(self) -> dict[str, Any]:
        summary = {
            "DomainId": self.domain_id,
            "AppType": self.app_type,
            "AppName": self.name,
            "Status": self.life.status,
            "CreationTime": self.life.created,
            "ResourceSpec": self.resource_spec,
        }
        if self.space:
            summary["SpaceName"] = self.space
        if self.profile:
            summary["UserProfileName"] = self.profile
        return summary

    def describe(self) -> dict[str, Any]:
        # LastUserActivityTimestamp tracks health checks in the real service, not users: same here.
        return self.summary() | {
            "AppArn": self.arn,
            "LastHealthCheckTimestamp": self.life.changed,
            "LastUserActivityTimestamp": self.life.changed,
        }


@dataclass
class TrackingServer:
    arn: str
    name: str
    size: str
    artifact_store_uri: str
    role_arn: str
    tags: list[dict[str, str]]
    life: _Lifecycle = field(default_factory=lambda: _Lifecycle(transient="Creating", target="Created"))

    def summary(self) -> dict[str, Any]:
        return {
            "TrackingServerArn": self.arn,
            "TrackingServerName": self.name,
            "CreationTime": self.life.created,
            "LastModifiedTime": self.life.changed,
            "TrackingServerStatus": self.life.status,
            "IsActive": "Active" if self.life.status in ("Created", "Started", "Updated") else "Inactive",
            "MlflowVersion": "2.16.2",
        }

    def describe(self) -> dict[str, Any]:
        return self.summary() | {
            "TrackingServerSize": self.size,
            "ArtifactStoreUri": self.artifact_store_uri,
            "RoleArn": self.role_arn,
            "TrackingServerUrl": f"https://{self.name}.mlflow.sandbox",
        }


@dataclass
class StudioState:
    profiles: dict[tuple[str, str], UserProfile] = field(default_factory=dict)
    spaces: dict[tuple[str, str], Space] = field(default_factory=dict)
    apps: dict[tuple[str, str, str, str], App] = field(default_factory=dict)
    tracking_servers: dict[str, TrackingServer] = field(default_factory=dict)

    def taggable(self) -> list[Any]:
        return [*self.profiles.values(), *self.spaces.values(), *self.apps.values(), *self.tracking_servers.values()]


def studio(backend: SageMakerModelBackend) -> StudioState:
    if "_studio" not in backend.__dict__:
        backend.__dict__["_studio"] = StudioState()
    return backend.__dict__["_studio"]


# --- request handling ------------------------------------------------------------------------------

_model = botocore.session.get_session().get_service_model("sagemaker")
_emr_model = botocore.session.get_session().get_service_model("emr")
_validator = ParamValidator()


def _checked(result: dict[str, Any], operation: str, model=_model) -> ActionResult:
    """Refuse to answer with anything botocore's output shape does not describe."""
    report = _validator.validate(result, model.operation_model(operation).output_shape)
    if report.has_errors():
        raise AssertionError(f"sandbox {operation} response breaks the service model: {report.generate_report()}")
    return ActionResult(result)


def _page(items: list[Any], token: str | None, max_results: int | None) -> tuple[list[Any], str | None]:
    start = int(token or 0)
    size = max_results or 10  # SageMaker's default page (guardian_sandbox.paging)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _lower(*parts: str) -> str:
    return "/".join(p.lower() for p in parts)


def _p(self: Any, name: str) -> Any:
    """A request parameter as the client sent it: plain JSON, keys spelled as in the service model."""
    if "_request_json" not in self.__dict__:
        self.__dict__["_request_json"] = json.loads(self.body or "{}")
    return self.__dict__["_request_json"].get(name)


class _Studio(SageMakerResponse):
    """Methods grafted onto moto's SageMakerResponse (see :func:`install`)."""

    _p = _p

    @property
    def _studio(self) -> StudioState:
        return studio(self.sagemaker_backend)

    def _arn(self, resource: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.current_account}:{resource}"

    def _domain(self, domain_id: str) -> Any:
        domain = self.sagemaker_backend.domains.get(domain_id)
        if domain is None:
            raise ResourceNotFound(f"Domain {domain_id} does not exist")
        return domain

    # user profiles

    def create_user_profile(self) -> ActionResult:
        domain_id, name = self._p("DomainId"), self._p("UserProfileName")
        self._domain(domain_id)
        held = self._studio.profiles.get((domain_id, name))
        if held and held.life.deleted_for is None:
            raise ResourceInUseException(f"User profile {name} already exists in domain {domain_id}")
        profile = UserProfile(
            self._arn(_lower("user-profile", domain_id, name)),
            domain_id,
            name,
            self._p("UserSettings") or {},
            self._p("Tags") or [],
        )
        self._studio.profiles[(domain_id, name)] = profile
        return _checked({"UserProfileArn": profile.arn}, "CreateUserProfile")

    def _profile(self, domain_id: str, name: str) -> UserProfile:
        profile = self._studio.profiles.get((domain_id, name))
        if profile is None or profile.life.deleted_for is not None:
            raise ResourceNotFound(f"User profile {name} does not exist in domain {domain_id}")
        return profile

    def describe_user_profile(self) -> ActionResult:
        profile = self._profile(self._p("DomainId"), self._p("UserProfileName"))
        return _checked(profile.describe(), "DescribeUserProfile")

    def list_user_profiles(self) -> ActionResult:
        domain, contains = self._p("DomainIdEquals"), self._p("UserProfileNameContains")
        items = [
            p
            for p in self._studio.profiles.values()
            if p.life.deleted_for is None
            and (not domain or p.domain_id == domain)
            and (not contains or contains in p.name)
        ]
        items.sort(key=lambda p: p.life.created, reverse=self._p("SortOrder") != "Ascending")
        page, token = _page(items, self._p("NextToken"), self._p("MaxResults"))
        return _checked(
            {"UserProfiles": [p.summary() for p in page]} | ({"NextToken": token} if token else {}), "ListUserProfiles"
        )

    def delete_user_profile(self) -> ActionResult:
        domain_id, name = self._p("DomainId"), self._p("UserProfileName")
        profile = self._profile(domain_id, name)
        running = [
            a
            for a in self._studio.apps.values()
            if a.domain_id == domain_id and a.profile == name and a.life.target != "Deleted"
        ]
        owned = [
            s
            for s in self._studio.spaces.values()
            if s.domain_id == domain_id and s.owner == name and s.life.target != "Deleted"
        ]
        if running or owned:
            raise ResourceInUseException(f"User profile {name} still has apps or spaces; delete them first")
        profile.life.move("Deleting", "Deleted")
        return EmptyResult()

    # spaces

    def create_space(self) -> ActionResult:
        domain_id, name = self._p("DomainId"), self._p("SpaceName")
        self._domain(domain_id)
        held = self._studio.spaces.get((domain_id, name))
        if held and held.life.deleted_for is None:
            raise ResourceInUseException(f"Space {name} already exists in domain {domain_id}")
        sharing = (self._p("SpaceSharingSettings") or {}).get("SharingType", "Shared")
        if sharing not in ("Private", "Shared"):
            raise ValidationError(
                f"Value '{sharing}' at 'spaceSharingSettings.sharingType' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Private, Shared]"
            )
        owner = (self._p("OwnershipSettings") or {}).get("OwnerUserProfileName")
        if sharing == "Private" and not owner:
            raise ValidationError("A private space needs OwnershipSettings.OwnerUserProfileName")
        if owner:
            self._profile(domain_id, owner)
        settings_ = self._p("SpaceSettings") or {}
        if settings_.get("AppType") and settings_["AppType"] not in SPACE_APP_TYPES:
            raise ValidationError(f"Value '{settings_['AppType']}' at 'spaceSettings.appType' is not a space app type")
        space = Space(
            self._arn(_lower("space", domain_id, name)),
            domain_id,
            name,
            settings_,
            owner,
            sharing,
            self._p("SpaceDisplayName"),
            self._p("Tags") or [],
        )
        self._studio.spaces[(domain_id, name)] = space
        return _checked({"SpaceArn": space.arn}, "CreateSpace")

    def _space(self, domain_id: str, name: str) -> Space:
        space = self._studio.spaces.get((domain_id, name))
        if space is None or space.life.deleted_for is not None:
            raise ResourceNotFound(f"Space {name} does not exist in domain {domain_id}")
        return space

    def describe_space(self) -> ActionResult:
        space = self._space(self._p("DomainId"), self._p("SpaceName"))
        return _checked(space.describe(), "DescribeSpace")

    def list_spaces(self) -> ActionResult:
        domain, contains = self._p("DomainIdEquals"), self._p("SpaceNameContains")
        items = [
            s
            for s in self._studio.spaces.values()
            if s.life.deleted_for is None
            and (not domain or s.domain_id == domain)
            and (not contains or contains in s.name)
        ]
        items.sort(key=lambda s: s.life.created, reverse=self._p("SortOrder") != "Ascending")
        page, token = _page(items, self._p("NextToken"), self._p("MaxResults"))
        return _checked({"Spaces": [s.summary() for s in page]} | ({"NextToken": token} if token else {}), "ListSpaces")

    def update_space(self) -> ActionResult:
        space = self._space(self._p("DomainId"), self._p("SpaceName"))
        changes = self._p("SpaceSettings") or {}
        for key, value in changes.items():
            space.settings[key] = value
        if self._p("SpaceDisplayName"):
            space.display_name = self._p("SpaceDisplayName")
        space.life.move("Updating", "InService")
        return _checked({"SpaceArn": space.arn}, "UpdateSpace")

    def delete_space(self) -> ActionResult:
        domain_id, name = self._p("DomainId"), self._p("SpaceName")
        space = self._space(domain_id, name)
        if any(
            a.domain_id == domain_id and a.space == name and a.life.target != "Deleted"
            for a in self._studio.apps.values()
        ):
            raise ResourceInUseException(f"Space {name} has running apps; delete them first")
        space.life.move("Deleting", "Deleted")
        return EmptyResult()

    # apps

    def create_app(self) -> ActionResult:
        domain_id, app_type, name = self._p("DomainId"), self._p("AppType"), self._p("AppName")
        space_name, profile_name = self._p("SpaceName"), self._p("UserProfileName")
        self._domain(domain_id)
        if app_type not in APP_TYPES:
            raise ValidationError(
                f"Value '{app_type}' at 'appType' failed to satisfy constraint: "
                f"Member must satisfy enum value set: {sorted(APP_TYPES)}"
            )
        if bool(space_name) == bool(profile_name):
            raise ValidationError("Specify exactly one of SpaceName and UserProfileName")
        spec = dict(self._p("ResourceSpec") or {})
        if space_name:
            space = self._space(domain_id, space_name)
            space_type = space.settings.get("AppType")
            if space_type and space_type != app_type:
                raise ValidationError(f"Space {space_name} runs {space_type} apps, not {app_type}")
            default = (space.settings.get(_APP_SETTINGS_KEY.get(app_type, ""), {}) or {}).get("DefaultResourceSpec", {})
            spec = default | spec
        else:
            self._profile(domain_id, profile_name)
        spec.setdefault("InstanceType", "system" if app_type == "JupyterServer" else "ml.t3.medium")
        holder = space_name or profile_name
        key = (domain_id, holder, app_type, name)
        held = self._studio.apps.get(key)
        if held and held.life.target != "Deleted":
            raise ResourceInUseException(f"App {name} of type {app_type} already exists for {holder}")
        app = App(
            self._arn(_lower("app", domain_id, holder, app_type, name)),
            domain_id,
            profile_name,
            space_name,
            app_type,
            name,
            spec,
            self._p("Tags") or [],
        )
        self._studio.apps[key] = app
        return _checked({"AppArn": app.arn}, "CreateApp")

    def _app(self) -> App:
        holder = self._p("SpaceName") or self._p("UserProfileName")
        key = (self._p("DomainId"), holder, self._p("AppType"), self._p("AppName"))
        app = self._studio.apps.get(key)
        if app is None or self._forgotten(app):
            raise ResourceNotFound(f"App {key[3]} of type {key[2]} does not exist for {holder}")
        return app

    @staticmethod
    def _forgotten(app: App) -> bool:
        gone = app.life.deleted_for
        return gone is not None and gone > timedelta(seconds=settings.deleted_app_retention_seconds)

    def describe_app(self) -> ActionResult:
        return _checked(self._app().describe(), "DescribeApp")

    def list_apps(self) -> ActionResult:
        domain = self._p("DomainIdEquals")
        profile, space = self._p("UserProfileNameEquals"), self._p("SpaceNameEquals")
        items = [
            a
            for a in self._studio.apps.values()
            if not self._forgotten(a)
            and (not domain or a.domain_id == domain)
            and (not profile or a.profile == profile)
            and (not space or a.space == space)
        ]
        items.sort(key=lambda a: a.life.created, reverse=self._p("SortOrder") != "Ascending")
        page, token = _page(items, self._p("NextToken"), self._p("MaxResults"))
        return _checked({"Apps": [a.summary() for a in page]} | ({"NextToken": token} if token else {}), "ListApps")

    def delete_app(self) -> ActionResult:
        app = self._app()
        if app.life.target == "Deleted":
            raise ResourceNotFound(f"App {app.name} is already deleted")
        app.life.move("Deleting", "Deleted")
        return EmptyResult()

    # MLflow tracking servers

    def create_mlflow_tracking_server(self) -> ActionResult:
        name = self._p("TrackingServerName")
        if name in self._studio.tracking_servers and self._studio.tracking_servers[name].life.deleted_for is None:
            raise ResourceInUseException(f"Tracking server {name} already exists")
        size = self._p("TrackingServerSize") or "Small"
        if size not in ("Small", "Medium", "Large"):
            raise ValidationError(f"Value '{size}' at 'trackingServerSize' failed to satisfy constraint")
        server = TrackingServer(
            self._arn(_lower("mlflow-tracking-server", name)),
            name,
            size,
            self._p("ArtifactStoreUri"),
            self._p("RoleArn"),
            self._p("Tags") or [],
        )
        self._studio.tracking_servers[name] = server
        return _checked({"TrackingServerArn": server.arn}, "CreateMlflowTrackingServer")

    def _tracking_server(self) -> TrackingServer:
        name = self._p("TrackingServerName")
        server = self._studio.tracking_servers.get(name)
        if server is None or server.life.deleted_for is not None:
            raise ResourceNotFound(f"Tracking server {name} does not exist")
        return server

    def describe_mlflow_tracking_server(self) -> ActionResult:
        return _checked(self._tracking_server().describe(), "DescribeMlflowTrackingServer")

    def list_mlflow_tracking_servers(self) -> ActionResult:
        items = [t for t in self._studio.tracking_servers.values() if t.life.deleted_for is None]
        items.sort(key=lambda t: t.life.created, reverse=self._p("SortOrder") != "Ascending")
        page, token = _page(items, self._p("NextToken"), self._p("MaxResults"))
        return _checked(
            {"TrackingServerSummaries": [t.summary() for t in page]} | ({"NextToken": token} if token else {}),
            "ListMlflowTrackingServers",
        )

    def _move_tracking_server(
        self, operation: str, transient: str, target: str, allowed: set[str], refused: type[Exception]
    ) -> ActionResult:
        server = self._tracking_server()
        if server.life.status not in allowed:
            raise refused(f"Tracking server {server.name} is {server.life.status}")
        server.life.move(transient, target)
        return _checked({"TrackingServerArn": server.arn}, operation)

    def stop_mlflow_tracking_server(self) -> ActionResult:
        return self._move_tracking_server(
            "StopMlflowTrackingServer", "Stopping", "Stopped", {"Created", "Started", "Updated"}, ConflictException
        )

    def start_mlflow_tracking_server(self) -> ActionResult:
        return self._move_tracking_server(
            "StartMlflowTrackingServer", "Starting", "Started", {"Stopped"}, ConflictException
        )

    def delete_mlflow_tracking_server(self) -> ActionResult:
        return self._move_tracking_server(
            "DeleteMlflowTrackingServer",
            "Deleting",
            "Deleted",
            {"Created", "Started", "Updated", "Stopped", "CreateFailed"},
            ValidationError,  # the model documents no conflict for a deletion
        )


_STUDIO_ARN_TYPES = {"user-profile", "space", "app", "mlflow-tracking-server"}


def _resource_from_arn(original):
    """moto's tag lookup splits ARNs on one '/'; Studio ARNs have several, and are lowercase."""

    def lookup(self: SageMakerModelBackend, arn: str) -> Any:
        resource_type = arn.split(":", 5)[-1].split("/", 1)[0]
        if resource_type in _STUDIO_ARN_TYPES:
            for item in studio(self).taggable():
                if item.arn.lower() == arn.lower():
                    return item
            raise ValidationError(f"Could not find {resource_type} {arn}")
        try:
            found = original(self, arn)
            if found is None:
                raise ValidationError(f"Could not find {resource_type} {arn}")
            return found
        except (ValidationError, AttributeError, ValueError):
            # The real service accepts the lowercased ARNs it returns: find the resource ignoring case.
            for collection in (self.endpoints, self.notebook_instances, self.clusters, self.domains):
                for resource in collection.values():
                    if getattr(resource, "arn", "").lower() == arn.lower():
                        return resource
            raise

    return lookup


def _add_tags(self: SageMakerModelBackend, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """AddTags overwrites a key that is already there (moto appends a duplicate)."""
    resource = self._get_resource_from_arn(arn)
    incoming = {t["Key"]: t["Value"] for t in tags}
    resource.tags = [t for t in (resource.tags or []) if t["Key"] not in incoming] + [
        {"Key": k, "Value": v} for k, v in incoming.items()
    ]
    return resource.tags


def _tagged_resources(original):
    from moto.core.resource_tagging import TaggedResource

    types = {
        UserProfile: "sagemaker:user-profile",
        Space: "sagemaker:space",
        App: "sagemaker:app",
        TrackingServer: "sagemaker:mlflow-tracking-server",
    }

    def iter_tagged(self: SageMakerModelBackend):
        yield from original(self)
        for item in studio(self).taggable():
            if isinstance(item, App) and item.life.target == "Deleted":
                continue
            yield TaggedResource(
                arn=item.arn, tags={t["Key"]: t["Value"] for t in item.tags}, resource_type=types[type(item)]
            )

    return iter_tagged


# --- EMR auto-termination ------------------------------------------------------------------------


def _policies(backend: ElasticMapReduceBackend) -> dict[str, dict[str, Any]]:
    return backend.__dict__.setdefault("_auto_termination", {})


class _EmrAutoTermination(ElasticMapReduceResponse):
    _p = _p

    def get_auto_termination_policy(self) -> ActionResult:
        cluster_id = self._p("ClusterId")
        self.backend.describe_cluster(cluster_id)  # ResourceNotFound / InvalidRequest as moto has it
        policy = _policies(self.backend).get(cluster_id)
        return _checked({"AutoTerminationPolicy": policy} if policy else {}, "GetAutoTerminationPolicy", _emr_model)

    def put_auto_termination_policy(self) -> ActionResult:
        cluster_id = self._p("ClusterId")
        self.backend.describe_cluster(cluster_id)
        _policies(self.backend)[cluster_id] = self._p("AutoTerminationPolicy") or {}
        return EmptyResult()

    def remove_auto_termination_policy(self) -> ActionResult:
        _policies(self.backend).pop(self._p("ClusterId"), None)
        return EmptyResult()


def _run_job_flow(original):
    def run_job_flow(self: ElasticMapReduceResponse) -> Any:
        result = original(self)
        policy = _p(self, "AutoTerminationPolicy")
        if policy:
            cluster_id = result.result["JobFlowId"]
            _policies(self.backend)[cluster_id] = policy
        return result

    return run_job_flow


def _with_emr_clusters(original):
    """The Resource Groups Tagging API covers EMR clusters (elasticmapreduce:cluster); moto's does not."""
    from moto.core.resource_tagging import TaggedResource, make_tag_matcher, match_resource_type
    from moto.emr.models import emr_backends

    def generator(self, tag_filters=None, resource_type_filters=None, resource_arn_list=None):
        yield from original(
            self,
            tag_filters=tag_filters,
            resource_type_filters=resource_type_filters,
            resource_arn_list=resource_arn_list,
        )
        if not match_resource_type("elasticmapreduce:cluster", resource_type_filters):
            return
        if self.account_id not in emr_backends or self.region_name not in emr_backends[self.account_id]:
            return
        matches = make_tag_matcher(tag_filters)
        for cluster in emr_backends[self.account_id][self.region_name].clusters.values():
            tags = dict(cluster._tags)
            if (
                tags
                and matches(tags)
                and not cluster.state.startswith("TERMINATED")
                and (not resource_arn_list or cluster.arn in resource_arn_list)
            ):
                yield TaggedResource(arn=cluster.arn, tags=tags, resource_type="elasticmapreduce:cluster")

    return generator


def _enum_validator(shape: str):
    """moto checks instance types against an old list; the service model's enum is the real one."""
    allowed = set(_model.shape_for(shape).enum)

    def validate_instance_type(self: Any, instance_type: str) -> None:
        if instance_type not in allowed:
            raise ValidationError(
                f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
                f"Member must satisfy enum value set ({shape})"
            )

    return validate_instance_type


_installed = False


def install() -> None:
    """Graft the Studio APIs onto moto (idempotent). Works for mock_aws and moto's server alike."""
    global _installed
    if _installed:
        return
    for name, member in vars(_Studio).items():
        if callable(member) or isinstance(member, property):
            setattr(SageMakerResponse, name, member)
    # moto's own methods, replaced on purpose (hence the method-assign ignores).
    SageMakerModelBackend._get_resource_from_arn = _resource_from_arn(  # type: ignore[method-assign]
        SageMakerModelBackend._get_resource_from_arn
    )
    SageMakerModelBackend.add_tags = _add_tags  # type: ignore[method-assign]
    SageMakerModelBackend.iter_tagged_resources = _tagged_resources(  # type: ignore[method-assign]
        SageMakerModelBackend.iter_tagged_resources
    )
    moto_sagemaker_models.utcnow = _moto_utcnow
    moto_emr_models.utcnow = _moto_utcnow
    FakeEndpointConfig.validate_instance_type = _enum_validator(  # type: ignore[method-assign]
        "ProductionVariantInstanceType"
    )
    FakeSagemakerNotebookInstance.validate_instance_type = _enum_validator(  # type: ignore[method-assign]
        "InstanceType"
    )
    ResourceGroupsTaggingAPIBackend._get_resources_generator = _with_emr_clusters(  # type: ignore[method-assign]
        ResourceGroupsTaggingAPIBackend._get_resources_generator
    )
    ElasticMapReduceResponse._p = _p  # type: ignore[attr-defined]
    for name in ("get_auto_termination_policy", "put_auto_termination_policy", "remove_auto_termination_policy"):
        setattr(ElasticMapReduceResponse, name, getattr(_EmrAutoTermination, name))
    ElasticMapReduceResponse.run_job_flow = _run_job_flow(  # type: ignore[method-assign]
        ElasticMapReduceResponse.run_job_flow
    )
    # These build on this module's helpers: imported once it is.
    from guardian_sandbox import billing_calls, emr_fleets, hyperpod, moto_answers, paging, request_shapes, transitions

    emr_fleets.install()
    paging.install()
    moto_answers.install()
    request_shapes.install()
    transitions.install()
    hyperpod.install()
    from guardian_sandbox import inference_components, partner_apps  # moto lacks both

    partner_apps.install()
    inference_components.install()
    billing_calls.install()
    from guardian_sandbox import sts_roles  # AssumeRole refuses a role the account lacks

    sts_roles.install()
    dynamodb.install()
    sns_email.install()
    botocore_data.install()
    from guardian_sandbox import cloudtrail  # it reads this module's clock: imported once this one is

    cloudtrail.install()
    _installed = True
