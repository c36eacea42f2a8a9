"""The `smrules` command line: one click group whose commands load lazily.

Each command lives in `smrules/commands/<name>.py` as a click command named `command`, so
`smrules check --text ...` imports only what checking needs.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

COMMANDS = {
    "check": "Check activities against a policy.",
    "test": "Run policy unit tests (*.test.yaml).",
    "lint": "Check a policy for errors and likely mistakes.",
    "fmt": "Format .smr files in the canonical layout.",
    "schema": "Print a JSON schema (activity, decision, policy-test).",
    "init": "Scaffold a policy repository.",
    "serve": "Run the HTTP decision service.",
    "log": "Read the decision service's log.",
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._spec(name) is not None]

    def _spec(self, name: str):
        if name not in COMMANDS:
            return None
        return importlib.util.find_spec(f"smrules.commands.{name}")

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if self._spec(cmd_name) is None:
            return None
        module = importlib.import_module(f"smrules.commands.{cmd_name}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx) if COMMANDS[name]]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smrules", prog_name="smrules")
def main() -> None:
    """Check social media activities against a policy written in the smrules language.

    \b
    Exit codes: 0 allowed / passed, 1 denied / failed / lint errors,
                2 wrong usage, 3 invalid policy, activity or test file.
    """


if __name__ == "__main__":  # pragma: no cover
    main()
