"""Function configuration: read from the environment once, at handler entry, and validated."""

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    region: str = Field(alias="AWS_REGION", default="us-east-1")
    account_id: str | None = Field(alias="ACCOUNT_ID", default=None)
    tag_prefix: str = Field(alias="TAG_PREFIX", default="studio-cost-guardian")
    write_tags: bool = Field(alias="WRITE_TAGS", default=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        try:
            return cls.model_validate(dict(env))
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise RuntimeError(f"invalid function configuration: {problems}") from error
