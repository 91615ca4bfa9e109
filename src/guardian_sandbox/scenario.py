"""A realistic Studio account and its last day and a half of events, for the demo, tests and benchmarks.

The account (one domain, four people, private and shared spaces, endpoints with and without Studio's
auto-tags, EMR, HyperPod, MLflow, a classic notebook) is created through the sandbox's API with boto3, as
Studio and its users would, each resource at the time the story says (the sandbox's clock is set back
while it is made); the events are what CloudTrail, SageMaker and EMR would have sent EventBridge for those
calls, delivered late, twice and out of order as EventBridge may; CloudWatch holds the usage metrics.

The story, from `start` (30 hours before now):
- alice works in her private space alice-lab, deploys fraud-xgb (busy) and a serverless endpoint, starts
  the EMR cluster spark-etl, and stops her space 4 hours ago: fraud-xgb and spark-etl keep billing
  (orphaned-resource; spark-etl has also sat idle for an hour: idle-emr-cluster).
- bob codes in bob-code, whose Code Editor has run 29 hours with no idle shutdown (long-running-app), and
  deployed churn-llm, which nobody has called since (idle-endpoint).
- carol runs the shared team-notebooks (idle shutdown after 60 minutes: fine), a busy batch endpoint and the
  team's MLflow server.
- dave started the HyperPod cluster llm-train from dave-scratch, which he stopped an hour later
  (orphaned-resource; HyperPod has no bundled price, so its cost is unknown, not zero); adhoc-presto
  carries an owner tag the guardian wrote earlier.
- erin serves two models, sentiment-a and sentiment-b, from her private space erin-nlp, busy all day; the
  demo's live act has her stop the space (both endpoints orphaned: one grouped message to her), then
  delete them (one resolve message).
- legacy-scoring (made by an intern's IAM user) is exempt by tag; classic-nb has no owner anyone can name.

Email addresses: alice, bob, dave and erin carry the `studio-cost-guardian:email` tag on their user
profiles; carol's comes from the stack's OwnerEmails mapping (OWNER_EMAILS).
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from guardian.arns import Location
from guardian.aws import AwsClients
from guardian_sandbox import clock
from guardian_sandbox.eventfactory import Caller, EventFactory

DOMAIN_NAME = "studio"
DEFAULT_ROLE = "AmazonSageMaker-ExecutionRole-Default"
SHARED_SPACE_ROLE = "AmazonSageMaker-SharedSpaces"
# alice and carol have roles of their own; bob and dave share the domain's default role.
PROFILES: dict[str, str | None] = {
    "alice": "AmazonSageMaker-ExecutionRole-alice",
    "bob": None,
    "carol": "AmazonSageMaker-ExecutionRole-carol",
    "dave": None,
    "erin": "AmazonSageMaker-ExecutionRole-erin",
}
EMAIL_TAG = "studio-cost-guardian:email"
TAGGED_EMAILS = {name: f"{name}@example.com" for name in ("alice", "bob", "dave", "erin")}
OWNER_EMAILS = {"carol": "carol@example.com"}  # the stack's OwnerEmails parameter
EXEMPTION_TAG = "studio-cost-guardian:exempt"
STORY_HOURS = 30


@dataclass
class ScheduledEvent:
    at: datetime
    label: str
    event: dict[str, Any]


@dataclass
class Day:
    """What the scenario made, and the events of its day in delivery order."""

    domain_id: str
    now: datetime
    events: list[ScheduledEvent] = field(default_factory=list)
    resources: dict[str, str] = field(default_factory=dict)  # name -> ARN as the API returned it


def role_arn(location: Location, role: str) -> str:
    return f"arn:aws:iam::{location.account}:role/service-role/{role}"


def execution_role(profile: str) -> str:
    """The role a profile's apps run as: its own, or the domain's default."""
    return PROFILES[profile] or DEFAULT_ROLE


class StudioAccount:
    """Builds the account through the API and writes down the events that building it causes."""

    def __init__(self, clients: AwsClients, location: Location, now: datetime) -> None:
        self.clients = clients
        self.sm = clients("sagemaker")
        self.emr = clients("emr")
        self.cloudwatch = clients("cloudwatch")
        self.location = location
        self.now = now
        self.start = (now - timedelta(hours=STORY_HOURS)).replace(minute=0, second=0, microsecond=0)
        self.factory = EventFactory(location)
        self.day: Day | None = None

    @property
    def _day(self) -> Day:
        """The day being built (by :meth:`build`)."""
        if self.day is None:
            raise RuntimeError("the account is not built yet: build() first")
        return self.day

    def at(self, hours: float) -> datetime:
        return self.start + timedelta(hours=hours)

    @contextlib.contextmanager
    def then(self, hours: float) -> Iterator[None]:
        """Make what the block makes at that point of the story."""
        with clock.at(self.clients, self.at(hours)):
            yield

    def emit(self, hours: float, label: str, event: dict[str, Any]) -> None:
        self._day.events.append(ScheduledEvent(self.at(hours), label, event))

    def call(self, hours: float, name: str, caller: Caller, request: dict, response: dict | None) -> None:
        event = self.factory.api_call(name, self.at(hours), caller, request, response)
        self.emit(hours, f"{name} {_label(request)}", event)

    def caller(self, profile: str) -> Caller:
        """A call made from a notebook of this profile (the domain sets USER_PROFILE_NAME)."""
        return Caller(role=execution_role(profile), source_identity=profile)

    def build(self) -> Day:
        loc = self.location
        with self.then(-48):
            domain = self.sm.create_domain(
                DomainName=DOMAIN_NAME,
                AuthMode="IAM",
                SubnetIds=["subnet-0a1b2c3d"],
                VpcId="vpc-0a1b2c3d",
                DefaultUserSettings={"ExecutionRole": role_arn(loc, DEFAULT_ROLE)},
                DefaultSpaceSettings={"ExecutionRole": role_arn(loc, SHARED_SPACE_ROLE)},
                DomainSettings={"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"},
            )
        domain_id = domain["DomainArn"].rsplit("/", 1)[-1]
        self.day = Day(domain_id, self.now)
        admin = Caller(iam_user="platform-admin")
        for name, role in PROFILES.items():
            settings = {"ExecutionRole": role_arn(loc, role)} if role else {}
            tags = [{"Key": EMAIL_TAG, "Value": TAGGED_EMAILS[name]}] if name in TAGGED_EMAILS else []
            with self.then(-47):
                arn = self.sm.create_user_profile(
                    DomainId=domain_id, UserProfileName=name, UserSettings=settings, Tags=tags
                )
            request = {"domainId": domain_id, "userProfileName": name}
            if tags:
                request["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tags]
            if role:
                request["userSettings"] = {"executionRole": role_arn(loc, role)}
            self.call(-47, "CreateUserProfile", admin, request, {"userProfileArn": arn["UserProfileArn"]})
        self._spaces(domain_id)
        self._endpoints(domain_id)
        self._emr()
        self._others(domain_id)
        return self._day

    def _spaces(self, domain_id: str) -> None:
        spaces = [  # name, owner, sharing, app type, instance type, idle shutdown (min), started, stopped (h)
            ("alice-lab", "alice", "Private", "JupyterLab", "ml.g5.xlarge", None, 0.0, 26.0),
            ("bob-code", "bob", "Private", "CodeEditor", "ml.m5.large", None, 1.0, None),
            ("team-notebooks", "carol", "Shared", "JupyterLab", "ml.t3.medium", 60, 0.5, None),
            ("dave-scratch", "dave", "Private", "JupyterLab", "ml.t3.medium", None, 6.0, 7.5),
            ("erin-nlp", "erin", "Private", "JupyterLab", "ml.t3.medium", 120, 8.0, None),
        ]
        for name, owner, sharing, app_type, instance_type, idle, started, stopped in spaces:
            key = "JupyterLabAppSettings" if app_type == "JupyterLab" else "CodeEditorAppSettings"
            app_settings: dict[str, Any] = {"DefaultResourceSpec": {"InstanceType": instance_type}}
            if idle:
                app_settings["AppLifecycleManagement"] = {"IdleSettings": {"IdleTimeoutInMinutes": idle}}
            settings = {
                "AppType": app_type,
                key: app_settings,
                "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 50}},
            }
            with self.then(-46):
                created = self.sm.create_space(
                    DomainId=domain_id,
                    SpaceName=name,
                    SpaceSettings=settings,
                    OwnershipSettings={"OwnerUserProfileName": owner},
                    SpaceSharingSettings={"SharingType": sharing},
                )
            self._day.resources[name] = created["SpaceArn"]
            request = {
                "domainId": domain_id,
                "spaceName": name,
                "ownershipSettings": {"ownerUserProfileName": owner},
                "spaceSharingSettings": {"sharingType": sharing},
                "spaceSettings": _camel(
                    {"AppType": app_type, key: app_settings, "SpaceStorageSettings": settings["SpaceStorageSettings"]}
                ),
            }
            self.call(-46, "CreateSpace", self.caller(owner), request, {"spaceArn": created["SpaceArn"]})
            if started is None:
                continue
            app = {"domainId": domain_id, "spaceName": name, "appType": app_type, "appName": "default"}
            with self.then(started):
                response = self.sm.create_app(DomainId=domain_id, SpaceName=name, AppType=app_type, AppName="default")
            self.call(
                started,
                "CreateApp",
                self.caller(owner),
                app | {"resourceSpec": {"instanceType": instance_type}},
                {"appArn": response["AppArn"]},
            )
            if stopped is not None:
                with self.then(stopped):
                    self.sm.delete_app(DomainId=domain_id, SpaceName=name, AppType=app_type, AppName="default")
                self.call(stopped, "DeleteApp", self.caller(owner), app, None)

    def _endpoints(self, domain_id: str) -> None:
        self.sm.create_model(
            ModelName="demo-model",
            ExecutionRoleArn=role_arn(self.location, DEFAULT_ROLE),
            PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7-1"},
        )
        alice_tags = [
            {"Key": "sagemaker:user-profile-arn", "Value": self.location.user_profile(domain_id, "alice")},
            {"Key": "sagemaker:space-arn", "Value": self._day.resources["alice-lab"]},
            {"Key": "sagemaker:domain-arn", "Value": self.location.domain(domain_id)},
        ]
        erin_tags = [
            {"Key": "sagemaker:user-profile-arn", "Value": self.location.user_profile(domain_id, "erin")},
            {"Key": "sagemaker:space-arn", "Value": self._day.resources["erin-nlp"]},
        ]
        exempt = [{"Key": EXEMPTION_TAG, "Value": "true"}]
        endpoints = [  # name, created by, tags, instance type (None: serverless), count, created (h), calls/h
            ("fraud-xgb", self.caller("alice"), alice_tags, "ml.m5.xlarge", 1, 1.5, 40),
            ("alice-serverless", self.caller("alice"), alice_tags, None, 0, 2.0, 0),
            ("churn-llm", self.caller("bob"), [], "ml.g5.2xlarge", 1, 2.5, 0),
            ("carol-batch", Caller(role=PROFILES["carol"]), [], "ml.c5.xlarge", 2, 3.0, 500),
            ("legacy-scoring", Caller(iam_user="intern"), exempt, "ml.m5.large", 1, 3.5, 0),
            ("sentiment-a", self.caller("erin"), erin_tags, "ml.m5.2xlarge", 1, 9.0, 300),
            ("sentiment-b", self.caller("erin"), erin_tags, "ml.g4dn.xlarge", 1, 9.5, 120),
        ]
        for name, caller, tags, instance_type, count, hours, calls_per_hour in endpoints:
            variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": "demo-model"}
            if instance_type:
                variant |= {"InstanceType": instance_type, "InitialInstanceCount": count}
            else:
                variant |= {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}
            with self.then(hours):
                self.sm.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=[variant])
                arn = self.sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config", Tags=tags)[
                    "EndpointArn"
                ]
            self._day.resources[name] = arn
            self.call(
                hours,
                "CreateEndpoint",
                caller,
                {"endpointName": name, "endpointConfigName": f"{name}-config"},
                {"endpointArn": arn},
            )
            counts = {
                "VariantName": "AllTraffic",
                "CurrentWeight": 1.0,
                "DesiredWeight": 1.0,
                "CurrentInstanceCount": float(count),
                "DesiredInstanceCount": float(count),
            }
            event_tags = {t["Key"]: t["Value"] for t in tags}
            for status, delay in (("CREATING", 0.01), ("IN_SERVICE", 0.15)):
                self.emit(
                    hours + delay,
                    f"Endpoint {status} {name}",
                    self.factory.endpoint_state(
                        self.at(hours + delay),
                        name,
                        arn,
                        status,
                        f"{name}-config",
                        [counts],
                        self.at(hours),
                        event_tags,
                    ),
                )
            if calls_per_hour:
                self._invocations(name, calls_per_hour, hours)

    def _invocations(self, endpoint: str, per_hour: int, since_hours: float) -> None:
        points = [
            {
                "MetricName": "Invocations",
                "Value": float(per_hour),
                "Unit": "None",
                "Timestamp": self.at(h + 0.5),
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
            }
            for h in range(int(since_hours) + 1, STORY_HOURS)
        ]
        for offset in range(0, len(points), 20):
            self.cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=points[offset : offset + 20])

    def _emr(self) -> None:
        clusters = [  # name, caller, auto-termination (s), guardian tag owner, started (h), idle for the last (h)
            ("spark-etl", self.caller("alice"), None, None, 4.0, 1.0),
            ("adhoc-presto", Caller(iam_user="analytics-bot"), 3600, "dave", 5.0, 0.0),
        ]
        groups = [("Primary", "MASTER", "m5.xlarge", 1), ("Core", "CORE", "m5.2xlarge", 2)]
        for name, caller, idle_timeout, tagged_owner, hours, idle_hours in clusters:
            tags = [{"Key": "studio-cost-guardian:owner", "Value": tagged_owner}] if tagged_owner else []
            args: dict[str, Any] = {
                "Name": name,
                "ReleaseLabel": "emr-7.2.0",
                "JobFlowRole": "EMR_EC2_DefaultRole",
                "ServiceRole": "EMR_DefaultRole",
                "Tags": tags,
                "Instances": {
                    "KeepJobFlowAliveWhenNoSteps": True,
                    "InstanceGroups": [
                        {"Name": n, "InstanceRole": role, "InstanceType": t, "InstanceCount": c}
                        for n, role, t, c in groups
                    ],
                },
            }
            if idle_timeout:
                args["AutoTerminationPolicy"] = {"IdleTimeout": idle_timeout}
            with self.then(hours):
                cluster_id = self.emr.run_job_flow(**args)["JobFlowId"]
            self._day.resources[name] = self.location.emr_cluster(cluster_id)
            request = {
                "name": name,
                "releaseLabel": "emr-7.2.0",
                "tags": [{"key": t["Key"], "value": t["Value"]} for t in tags],
                "instances": {
                    "keepJobFlowAliveWhenNoSteps": True,
                    "instanceGroups": [
                        {"name": n, "instanceRole": role, "instanceType": t, "instanceCount": c}
                        for n, role, t, c in groups
                    ],
                },
            }
            if idle_timeout:
                request["autoTerminationPolicy"] = {"idleTimeout": idle_timeout}
            self.call(hours, "RunJobFlow", caller, request, {"jobFlowId": cluster_id})
            self.emit(
                hours + 0.01,
                f"EMR STARTING {name}",
                self.factory.emr_state(self.at(hours + 0.01), cluster_id, name, "STARTING"),
            )
            self.emit(
                hours + 0.2,
                f"EMR WAITING {name}",
                self.factory.emr_state(self.at(hours + 0.2), cluster_id, name, "WAITING"),
            )
            self._is_idle(cluster_id, idle_hours)

    def _is_idle(self, cluster_id: str, idle_hours: float) -> None:
        """Two hours of IsIdle points, every 5 minutes: 1 for the last ``idle_hours``, 0 before."""
        idle_from = self.now - timedelta(hours=idle_hours)
        points = []
        for minutes in range(120, 0, -5):
            at = self.now - timedelta(minutes=minutes)
            points.append(
                {
                    "MetricName": "IsIdle",
                    "Value": 1.0 if at >= idle_from else 0.0,
                    "Unit": "None",
                    "Timestamp": at,
                    "Dimensions": [{"Name": "JobFlowId", "Value": cluster_id}],
                }
            )
        for offset in range(0, len(points), 20):
            self.cloudwatch.put_metric_data(Namespace="AWS/ElasticMapReduce", MetricData=points[offset : offset + 20])

    def _others(self, domain_id: str) -> None:
        carol_tags = [
            {"Key": "sagemaker:user-profile-arn", "Value": self.location.user_profile(domain_id, "carol")},
            {"Key": "sagemaker:space-arn", "Value": self._day.resources["team-notebooks"]},
        ]
        with self.then(6.0):
            server = self.sm.create_mlflow_tracking_server(
                TrackingServerName="team-tracking",
                ArtifactStoreUri="s3://sagemaker-team-mlflow/artifacts",
                RoleArn=role_arn(self.location, execution_role("carol")),
                TrackingServerSize="Small",
                Tags=carol_tags,
            )
        self._day.resources["team-tracking"] = server["TrackingServerArn"]
        self.call(
            6.0,
            "CreateMlflowTrackingServer",
            self.caller("carol"),
            {
                "trackingServerName": "team-tracking",
                "trackingServerSize": "Small",
                "artifactStoreUri": "s3://sagemaker-team-mlflow/artifacts",
            },
            {"trackingServerArn": server["TrackingServerArn"]},
        )
        group = {
            "InstanceGroupName": "workers",
            "InstanceType": "ml.g5.8xlarge",
            "InstanceCount": 2,
            "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/scripts/", "OnCreate": "on_create.sh"},
            "ExecutionRole": role_arn(self.location, DEFAULT_ROLE),
            "ThreadsPerCore": 1,
        }
        with self.then(6.5):
            cluster_arn = self.sm.create_cluster(ClusterName="llm-train", InstanceGroups=[group])["ClusterArn"]
        self._day.resources["llm-train"] = cluster_arn
        self.call(
            6.5,
            "CreateCluster",
            self.caller("dave"),
            {
                "clusterName": "llm-train",
                "instanceGroups": [
                    {"instanceGroupName": "workers", "instanceType": "ml.g5.8xlarge", "instanceCount": 2}
                ],
            },
            {"clusterArn": cluster_arn},
        )
        with self.then(7.0):
            notebook = self.sm.create_notebook_instance(
                NotebookInstanceName="classic-nb",
                InstanceType="ml.t3.medium",
                RoleArn=role_arn(self.location, DEFAULT_ROLE),
            )
        self._day.resources["classic-nb"] = notebook["NotebookInstanceArn"]
        self.call(
            7.0,
            "CreateNotebookInstance",
            Caller(iam_user="bob.smith"),
            {"notebookInstanceName": "classic-nb", "instanceType": "ml.t3.medium"},
            {"notebookInstanceArn": notebook["NotebookInstanceArn"]},
        )

    # --- the live act: what erin does after the story, at real moments --------------------------------

    def stop_space(self, name: str, owner: str, at: datetime) -> ScheduledEvent:
        """The owner stops a space: Studio deletes its running app."""
        app = {"domainId": self._day.domain_id, "spaceName": name, "appType": "JupyterLab", "appName": "default"}
        with clock.at(self.clients, at):
            self.sm.delete_app(DomainId=self._day.domain_id, SpaceName=name, AppType="JupyterLab", AppName="default")
        return ScheduledEvent(at, f"DeleteApp {name}", self.factory.api_call("DeleteApp", at, self.caller(owner), app))

    def delete_endpoint(self, name: str, owner: str, at: datetime) -> ScheduledEvent:
        with clock.at(self.clients, at):
            self.sm.delete_endpoint(EndpointName=name)
        event = self.factory.api_call("DeleteEndpoint", at, self.caller(owner), {"endpointName": name})
        return ScheduledEvent(at, f"DeleteEndpoint {name}", event)


def _camel(value: Any) -> Any:
    """API parameters as CloudTrail records them: camelCase keys."""
    if isinstance(value, dict):
        return {key[0].lower() + key[1:]: _camel(item) for key, item in value.items()}
    return value


def _label(request: dict[str, Any]) -> str:
    for key in (
        "spaceName",
        "endpointName",
        "name",
        "trackingServerName",
        "clusterName",
        "notebookInstanceName",
        "userProfileName",
    ):
        if key in request:
            return request[key]
    return ""


def delivery_order(day: Day) -> list[ScheduledEvent]:
    """Events in time order, then as EventBridge may really deliver them: one late, two twice."""
    ordered = sorted(day.events, key=lambda e: e.at)
    late = next(i for i, e in enumerate(ordered) if e.label.startswith("CreateEndpoint churn-llm"))
    in_service = next(i for i, e in enumerate(ordered) if e.label == "Endpoint IN_SERVICE churn-llm")
    ordered.insert(in_service, ordered.pop(late))  # the state change arrives before its CreateEndpoint
    duplicates = [e for e in ordered if e.label in ("CreateEndpoint fraud-xgb", "DeleteApp alice-lab")]
    return ordered + duplicates


def malformed_event(factory: EventFactory, at: datetime) -> dict[str, Any]:
    """An EMR event whose JSON-in-a-string reason is cut short: the kind of input that must be parked."""
    event = factory.emr_state(at, "j-1BROKEN0000", "broken", "WAITING")
    event["detail"]["stateChangeReason"] = '{"code":'
    return event
