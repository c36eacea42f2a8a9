"""`smrules test [PATH...]`: run policy unit tests (`*.test.yaml`, SPEC §6)."""

from __future__ import annotations

import click

from ._common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, print_diagnostics


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "junit", "github", "tap"]),
    default="text",
    show_default=True,
    help="Report format: text for people, json, junit (XML), github (annotations), tap.",
)
@click.option(
    "--coverage", is_flag=True, help="Report per-rule and per-condition coverage of the cases."
)
@click.option(
    "--min-coverage",
    type=click.FloatRange(0, 100),
    metavar="PCT",
    help="Fail (exit 1) when fewer than PCT% of the rules are fired by some case.",
)
@click.option(
    "-k",
    "pattern",
    metavar="PATTERN",
    help='Run only cases whose name contains PATTERN (case-insensitive); "a and not b" works.',
)
def command(
    paths: tuple[str, ...],
    fmt: str,
    coverage: bool,
    min_coverage: float | None,
    pattern: str | None,
) -> None:
    """Run the policy tests in *.test.yaml files found under PATHS (default: .).

    Each case's activity is checked against the policy under test and compared with its
    `expect`. A failing case shows the decision, its findings, and why an expected rule did
    not fire.

    \b
    Example:
      smrules test policies/ --coverage --min-coverage 90
      smrules test --format junit > report.xml

    \b
    Exit codes: 0 all passed, 1 a case failed or erred (or coverage is below
    --min-coverage), 3 an invalid test file or a policy under test that does not load.
    """
    from ..coverage import compute
    from ..reporters import render
    from ..testing import InvalidTestFile, discover, load_test_file, name_matcher, run_tests

    try:
        select = name_matcher(pattern)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="-k") from None
    found = discover(paths or (".",))
    files: list = []
    for path in found:
        try:
            files.append(load_test_file(path))
        except InvalidTestFile as err:
            files.append(err)
    want_coverage = coverage or min_coverage is not None
    run = run_tests(files, select, explain_all=want_coverage)
    if fmt != "text":  # the text report shows them itself; keep machine output parseable
        for invalid in run.invalid_files:
            print_diagnostics(invalid.diagnostics, invalid.sources)
        for failure in run.policy_failures:
            click.echo(f"policy `{failure.policy_name}` does not load:", err=True)
            print_diagnostics(failure.diagnostics, failure.sources)
    if not found:
        where = " ".join(paths or (".",))
        click.echo(f"no test files (*.test.yaml) found under {where}", err=True)
    elif not run.results and not run.invalid_files and pattern:
        click.echo(f"no test case matches -k {pattern!r}", err=True)
    cov = compute(run) if want_coverage else None
    click.echo(render(run, fmt, cov), nl=False)
    code = run.exit_code
    if cov is not None and min_coverage is not None and cov.below(min_coverage):
        click.echo(
            f"rule coverage {cov.percent:.1f}% is below --min-coverage {min_coverage:g}%",
            err=True,
        )
        code = max(code, EXIT_FAILED)
    raise SystemExit(code if code in (EXIT_OK, EXIT_FAILED, EXIT_INVALID) else EXIT_FAILED)
