"""SageMaker Partner AI Apps, which moto lacks: CreatePartnerApp, UpdatePartnerApp, DeletePartnerApp,
DescribePartnerApp, ListPartnerApps, and their tags (AddTags, ListTags, the Resource Groups Tagging API).

An app's ARN carries an id of its own (``partner-app/app-<12 characters>``), not its name, and every call after
the Create names the app by that ARN (in any case, as the service accepts). An app is Creating, Updating and
Deleting for a while (transitions.py), then Available, or gone. A Create whose name is taken, or a change while
one is under way, answers ConflictException; an unknown ARN ResourceNotFound, as the service model documents.
Requests are held to botocore's input shapes before they get here (request_shapes.py), and every answer to
its output shape. State lives on moto's SageMaker backend, so moto's reset clears it."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.moto_api._internal import mock_random
from moto.sagemaker.exceptions import ConflictException, ResourceNotFound
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from guardian_sandbox import studio, transitions
from guardian_sandbox.studio import _checked, _p, _page

ID_LENGTH = 12


def _stamped(app: "PartnerApp", at: datetime) -> None:
    app.last_modified = at


CREATE = transitions.Change("status", ("Creating",), "Available", _stamped)
UPDATE = transitions.Change("status", ("Updating",), "Available", _stamped)
DELETE = transitions.Change("status", ("Deleting",), transitions.GONE)
_CHANGING = {"Creating", "Updating", "Deleting"}


@dataclass(eq=False)  # kept by identity: transitions.py holds it weakly while a passage is under way
class PartnerApp:
    arn: str
    name: str
    type: str
    tier: str
    role_arn: str
    auth_type: str
    tags: list[dict[str, str]]
    client_token: str | None
    config: dict[str, Any] = field(default_factory=dict)
    status: str = "Creating"
    created: datetime = field(default_factory=studio._now)
    last_modified: datetime = field(default_factory=studio._now)

    def summary(self) -> dict[str, Any]:
        return {
            "Arn": self.arn,
            "Name": self.name,
            "Type": self.type,
            "Status": self.status,
            "CreationTime": self.created,
        }

    def describe(self) -> dict[str, Any]:
        return (
            self.summary()
            | {
                "LastModifiedTime": self.last_modified,
                "ExecutionRoleArn": self.role_arn,
                "Tier": self.tier,
                "AuthType": self.auth_type,
                "BaseUrl": f"https://{self.arn.rsplit('/', 1)[-1]}.partner-app.sandbox",
                "Version": "1.0.0",
            }
            | {key: value for key, value in self.config.items() if value is not None}
        )


def apps(backend: SageMakerModelBackend) -> dict[str, PartnerApp]:
    """Partner apps by id, settled to the sandbox's clock (moto's reset clears them with its backend)."""
    held: dict[str, PartnerApp] = backend.__dict__.setdefault("_sandbox_partner_apps", {})
    transitions._settle(held, studio._now())
    return held


def app_by_arn(backend: SageMakerModelBackend, arn: str | None) -> PartnerApp:
    found = next((a for a in apps(backend).values() if a.arn.lower() == (arn or "").lower()), None)
    if found is None:
        raise ResourceNotFound(f"Partner app {arn} not found")
    return found


def _config(request: Callable[[str], Any]) -> dict[str, Any]:
    """What a Create or Update sets besides the tier, as DescribePartnerApp answers it."""
    names = ("MaintenanceConfig", "ApplicationConfig", "EnableIamSessionBasedIdentity", "EnableAutoMinorVersionUpgrade")
    return {name: request(name) for name in names if request(name) is not None}


class _PartnerApps(SageMakerResponse):
    """Grafted onto moto's SageMakerResponse (see :func:`install`)."""

    _p = _p

    def create_partner_app(self) -> ActionResult:
        held = apps(self.sagemaker_backend)
        token, name = self._p("ClientToken"), self._p("Name")
        repeated = next((a for a in held.values() if token and a.client_token == token), None)
        if repeated is not None:  # the same request again: the same app (ClientToken makes Create idempotent)
            return _checked({"Arn": repeated.arn}, "CreatePartnerApp")
        if any(a.name == name for a in held.values()):
            raise ConflictException(f"Partner app with name {name} already exists")
        app_id = "app-" + mock_random.get_random_string(length=ID_LENGTH, include_digits=True).upper()
        app = PartnerApp(
            arn=f"arn:aws:sagemaker:{self.region}:{self.current_account}:partner-app/{app_id}",
            name=name,
            type=self._p("Type"),
            tier=self._p("Tier"),
            role_arn=self._p("ExecutionRoleArn"),
            auth_type=self._p("AuthType"),
            tags=self._p("Tags") or [],
            client_token=token,
            config=_config(self._p),
        )
        held[app_id] = app
        transitions.begin(app, CREATE)
        return _checked({"Arn": app.arn}, "CreatePartnerApp")

    def describe_partner_app(self) -> ActionResult:
        return _checked(app_by_arn(self.sagemaker_backend, self._p("Arn")).describe(), "DescribePartnerApp")

    def list_partner_apps(self) -> ActionResult:
        listed = sorted(apps(self.sagemaker_backend).values(), key=lambda a: a.created, reverse=True)
        page, token = _page(listed, self._p("NextToken"), self._p("MaxResults"))
        return _checked(
            {"Summaries": [a.summary() for a in page]} | ({"NextToken": token} if token else {}), "ListPartnerApps"
        )

    def update_partner_app(self) -> ActionResult:
        app = app_by_arn(self.sagemaker_backend, self._p("Arn"))
        if app.status in _CHANGING:
            raise ConflictException(f"Partner app {app.arn} is {app.status}: it cannot be updated now")
        app.tier = self._p("Tier") or app.tier
        app.config |= _config(self._p)
        if self._p("Tags"):
            app.tags = [t for t in app.tags if t["Key"] not in {n["Key"] for n in self._p("Tags")}] + self._p("Tags")
        transitions.begin(app, UPDATE)
        return _checked({"Arn": app.arn}, "UpdatePartnerApp")

    def delete_partner_app(self) -> ActionResult:
        app = app_by_arn(self.sagemaker_backend, self._p("Arn"))
        if app.status in _CHANGING:
            raise ConflictException(f"Partner app {app.arn} is {app.status}: it cannot be deleted now")
        transitions.begin(app, DELETE)
        return _checked({"Arn": app.arn}, "DeletePartnerApp")


def _resource_from_arn(original: Callable[..., Any]) -> Callable[..., Any]:
    """Tags (AddTags, ListTags) of a partner app, found by its ARN in any case."""

    def lookup(self: SageMakerModelBackend, arn: str) -> Any:
        if arn.split(":", 5)[-1].split("/", 1)[0] == "partner-app":
            return app_by_arn(self, arn)
        return original(self, arn)

    return lookup


def _tagged_resources(original: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    from moto.core.resource_tagging import TaggedResource

    def iter_tagged(self: SageMakerModelBackend) -> Iterator[Any]:
        yield from original(self)
        for app in apps(self).values():
            tags = {t["Key"]: t["Value"] for t in app.tags}
            yield TaggedResource(arn=app.arn, tags=tags, resource_type="sagemaker:partner-app")

    return iter_tagged


_installed = False


def install() -> None:
    """Graft the above onto moto (idempotent)."""
    global _installed
    if _installed:
        return
    for name in ("create", "describe", "list", "update", "delete"):
        operation = f"{name}_partner_app{'s' if name == 'list' else ''}"
        setattr(SageMakerResponse, operation, getattr(_PartnerApps, operation))
    backend = SageMakerModelBackend
    backend._get_resource_from_arn = _resource_from_arn(backend._get_resource_from_arn)  # type: ignore[method-assign]
    backend.iter_tagged_resources = _tagged_resources(backend.iter_tagged_resources)  # type: ignore[method-assign]
    _installed = True
