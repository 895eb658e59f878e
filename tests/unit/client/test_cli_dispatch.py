"""`svyaz X` imports only the module of command X (svyaz/cli.py's table), and still parses and
lists exactly what the modules register."""

import argparse
import importlib
import subprocess
import sys

import pytest

from svyaz.cli import COMMAND_MODULES, build_parser, main


def test_the_table_names_exactly_the_commands_each_module_registers():
    for module, listed in COMMAND_MODULES.items():
        commands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(commands)
        assert tuple(sorted(commands.choices)) == tuple(sorted(listed)), module


def test_a_known_command_builds_its_own_module_only_and_parses_as_before():
    parser = build_parser("lawful")
    subcommands = parser._subparsers._group_actions[0].choices

    assert set(subcommands) == {"lawful"}
    assert build_parser("lawful").parse_args(["lawful", "verify", "bundle"]).command == "lawful"


@pytest.mark.parametrize("command", [None, "no-such-command"])
def test_no_command_or_an_unknown_one_gets_every_command(command):
    subcommands = build_parser(command)._subparsers._group_actions[0].choices
    assert set(subcommands) == {name for names in COMMAND_MODULES.values() for name in names}


def test_a_typo_is_told_with_the_full_list(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["lawfull", "list"])
    assert exited.value.code == 2
    assert "invalid choice: 'lawfull'" in capsys.readouterr().err


def test_a_command_imports_neither_the_node_nor_the_other_tools():
    probe = ("import sys; from svyaz.cli import main\n"
             "try:\n    main(['lawful', '--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('svyaz.demo', 'svyaz.bench.cli', 'svyaz.stack.cli', 'svyaz.tui.cli') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
