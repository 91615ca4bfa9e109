"""STS AssumeRole as AWS answers it: a role that does not exist in the target account is AccessDenied (moto
assumes any ARN, so a member account that never deployed the member template would look reachable).

The role Organizations creates in every account it makes (OrganizationAccountAccessRole) is taken as there:
moto's Organizations does not create it, and seeding a member account goes through it."""

from typing import Any

from moto.core.exceptions import AccessDeniedError
from moto.iam.models import iam_backends
from moto.sts.models import STSBackend

ORGANIZATION_ROLE = "OrganizationAccountAccessRole"
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    assume = STSBackend.assume_role

    def assume_existing(self: STSBackend, **request: Any) -> Any:
        arn = request["role_arn"]
        account, name = arn.split(":")[4], arn.rsplit("/", 1)[-1]
        roles = iam_backends[account]["global"].roles.values()
        if name != ORGANIZATION_ROLE and not any(role.name == name for role in roles):
            raise AccessDeniedError(f"arn:aws:sts::{self.account_id}:assumed-role/caller", f"sts:AssumeRole on {arn}")
        return assume(self, **request)

    STSBackend.assume_role = assume_existing  # type: ignore[method-assign,assignment]
