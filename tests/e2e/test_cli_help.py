"""Help on every option: every subcommand of `guardian`, and every option and positional of each, says what
it is for (`guardian <command> --help` is the manual), and `--help` works for every command."""

import argparse

import pytest

from guardian_cli.main import main
from guardian_cli.parser import build_parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str | None]]:
    """Each subcommand's parser and the help its listing gives it, walked from the top."""
    found: dict[str, tuple[argparse.ArgumentParser, str | None]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found[name] = (sub, helps.get(name))
                found |= {f"{name} {inner}": item for inner, item in subcommands(sub).items()}
    return found


PARSER = build_parser()
COMMANDS = subcommands(PARSER)


def undocumented(parser: argparse.ArgumentParser) -> list[str]:
    """The options and positionals of ``parser`` with no help text (argparse's own --help aside)."""
    return [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and (action.help is None or not str(action.help).strip())
    ]


def test_the_walk_finds_every_command():
    assert {"scan", "findings", "report", "simulate", "sandbox", "demo", "snooze", "restore"} <= set(COMMANDS)


def test_every_top_level_option_has_help():
    assert undocumented(PARSER) == []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_described_and_every_option_and_positional_has_help(command):
    parser, listed_help = COMMANDS[command]
    assert listed_help and listed_help.strip(), f"`guardian {command}` has no help in the command list"
    assert undocumented(parser) == [], f"`guardian {command}`: options without help"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_exits_0_and_prints_the_manual(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*command.split(), "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: guardian {command}")
    assert "--help" in out


def test_the_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS if " " not in command)
