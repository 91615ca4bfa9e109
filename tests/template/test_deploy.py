"""`make deploy` (sam deploy --guided) as a new user meets it: the stack name every command assumes, the
parameters grouped with a description each, a loud warning when nobody would be told anything, and the
metadata the Serverless Application Repository needs."""

import tomllib

from guardian_cli.parser import build_parser
from guardian_sandbox.template import PROJECT_ROOT, template

CLI_STACK = "studio-cost-guardian"


def interface() -> dict:
    return template().document["Metadata"]["AWS::CloudFormation::Interface"]


def test_sam_deploy_proposes_the_stack_name_every_command_assumes():
    config = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
    assert config["default"]["global"]["parameters"]["stack_name"] == CLI_STACK
    assert "CAPABILITY_IAM" in config["default"]["deploy"]["parameters"]["capabilities"]
    for command in ("report", "findings"):
        args = build_parser().parse_args([command])
        assert args.stack == CLI_STACK, command


def test_every_parameter_has_a_description_and_is_in_exactly_one_group():
    parameters = template().document["Parameters"]
    grouped = [name for group in interface()["ParameterGroups"] for name in group["Parameters"]]
    assert sorted(grouped) == sorted(parameters), "a parameter in no group (or two), or a group naming none"
    for name, parameter in parameters.items():
        assert len(parameter.get("Description", "")) >= 20, f"{name} says nothing about what it does"


def test_a_stack_that_tells_nobody_says_so_in_its_outputs():
    document = template().document
    warning = document["Outputs"]["Warning"]
    assert warning["Condition"] == "NoTeamChannel"
    assert "TeamEmail" in warning["Value"] and "SlackWebhookSecretArn" in warning["Value"]
    condition = document["Conditions"]["NoTeamChannel"]
    assert condition == {
        "Fn::And": [{"Fn::Not": [{"Condition": "HasSlack"}]}, {"Fn::Not": [{"Condition": "HasTeamEmail"}]}]
    }


def test_the_serverless_application_repository_metadata_is_complete_and_current():
    application = template().document["Metadata"]["AWS::ServerlessRepo::Application"]
    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert application["SemanticVersion"] == version
    assert application["SpdxLicenseId"] == "Apache-2.0"
    for key in ("LicenseUrl", "ReadmeUrl"):
        assert (PROJECT_ROOT / application[key]).is_file(), key
    assert "Apache License" in (PROJECT_ROOT / application["LicenseUrl"]).read_text()
