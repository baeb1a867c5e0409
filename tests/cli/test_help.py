"""The command line (asaas/cli/): every command and every option has help text, and --version
answers."""

import click

from asaas.cli import cli


def _walk(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, prefix + (name,))


def test_every_command_has_help_text(invoke):
    commands = list(_walk(cli))
    assert len(commands) >= 3
    for path, cmd in commands:
        assert (cmd.help or "").strip(), f"`asaas {' '.join(path)}` has no help text"
        result = invoke(*path, "--help")
        assert result.exit_code == 0
        assert "Usage:" in result.output
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert param.help, f"option {param.name} of `asaas {' '.join(path)}` has no help"


def test_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0 and "asaas" in result.output
