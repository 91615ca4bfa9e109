"""Facts shared by the event path and the sweep: the same settings arrive as CloudTrail's camelCase
request parameters and as the API's PascalCase responses, so both are read through one function."""

import hashlib
import json
from typing import Any

# Where each app type keeps its settings inside SpaceSettings / UserSettings.
_APP_SETTINGS = {
    "JupyterLab": "JupyterLabAppSettings",
    "CodeEditor": "CodeEditorAppSettings",
    "JupyterServer": "JupyterServerAppSettings",
    "KernelGateway": "KernelGatewayAppSettings",
}


def dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...`` matching keys case-insensitively; None where anything is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        wanted = key.lower()
        data = next((value for name, value in data.items() if name.lower() == wanted), None)
    return data


def tag_map(tags: Any, given_only: bool = False) -> dict[str, str]:
    """Tags as a plain map, from ``[{"Key","Value"}]``, CloudTrail's ``[{"key","value"}]`` or a map. A tag
    without a Value has the empty one (EMR's API), unless ``given_only``: an event that does not give the
    value does not say it is empty (absent is not zero), so the tag waits for the sweep."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    result: dict[str, str] = {}
    for tag in tags or []:
        key, value = dig(tag, "Key"), dig(tag, "Value")
        if key is not None and not (given_only and value is None):
            result[str(key)] = str(value or "")
    return result


def space_facts(settings: Any) -> dict[str, Any]:
    """Instance type, storage and idle shutdown of a space from its SpaceSettings (either spelling)."""
    app_type = dig(settings, "AppType")
    facts: dict[str, Any] = {}
    if app_type:
        facts["app_type"] = app_type
    app_settings = dig(settings, _APP_SETTINGS.get(app_type or "", "JupyterLabAppSettings"))
    instance_type = dig(app_settings, "DefaultResourceSpec", "InstanceType")
    if instance_type:
        facts["instance_type"] = instance_type
    idle = dig(app_settings, "AppLifecycleManagement", "IdleSettings", "IdleTimeoutInMinutes")
    lifecycle = dig(app_settings, "AppLifecycleManagement", "IdleSettings", "LifecycleManagement")
    if idle is not None and lifecycle != "DISABLED":
        facts["idle_timeout_minutes"] = int(idle)
    storage = dig(settings, "SpaceStorageSettings", "EbsStorageSettings", "EbsVolumeSizeInGb")
    if storage is not None:
        facts["storage_gb"] = int(storage)
    return facts


def default_idle_minutes(user_settings: Any) -> int | None:
    """The idle shutdown a domain's DefaultUserSettings or a profile's UserSettings give JupyterLab spaces that
    set none of their own (either spelling); None where it is off or not set at this level."""
    return space_facts({"JupyterLabAppSettings": dig(user_settings, "JupyterLabAppSettings")}).get(
        "idle_timeout_minutes"
    )


def profile_role(settings: Any) -> str | None:
    role = dig(settings, "ExecutionRole")
    return role if isinstance(role, str) else None


def emr_group_key(role: str, instance_type: str, market: str | None) -> str:
    """EMR instance groups are keyed by what prices them, so a cluster's launch request, its instance
    group events and the sweep's ListInstanceGroups all name the same group the same way."""
    return f"{role}/{instance_type}/{market or 'ON_DEMAND'}"


def digest(value: Any) -> str:
    """A short, stable fingerprint of any JSON-able value (what the sweep compares between runs)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
