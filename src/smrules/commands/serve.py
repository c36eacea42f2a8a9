"""`smrules serve`: the HTTP decision service (SPEC §8)."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from ..decisionlog import DEFAULT_LOG_PATH, SYNC_MODES
from ._common import EXIT_INVALID, EXIT_USAGE, default_policy_path, load_policy_or_exit

INSTALL_HINT = "pip install 'smrules[server]'"


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise click.BadParameter(
            f"cannot read `{path}`: {err}", param_hint="--token-file"
        ) from None
    if not token:
        raise click.BadParameter(f"`{path}` is empty", param_hint="--token-file")
    if any(ch.isspace() for ch in token) or not token.isprintable():
        raise click.BadParameter(
            f"the token in `{path}` must be one word of printable characters",
            param_hint="--token-file",
        )
    return token


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every answer waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        click.echo(f"Error: cannot listen on {host}:{port}: {err.strerror or err}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    sock.set_inheritable(True)
    return sock


@click.command()
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Policy directory or .smr file  [default: ./policies, else the bundled policy]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8181,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Require `Authorization: Bearer TOKEN`, TOKEN being this file's content.",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_LOG_PATH,
    show_default=True,
    help="SQLite decision log; every decision is written here before it is answered.",
)
@click.option(
    "--log-sync",
    type=click.Choice(SYNC_MODES),
    default="full",
    show_default=True,
    help="full: fsync every commit (survives power loss); normal: survives a crash of the "
    "service but maybe not of the machine, and answers faster.",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=1024 * 1024,
    show_default=True,
    help="Largest request body in bytes (413 beyond).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Most activities in one batch request (413 beyond).",
)
def command(
    policy_path: Path | None,
    host: str,
    port: int,
    token_file: Path | None,
    log_path: Path,
    log_sync: str,
    max_body: int,
    max_batch: int,
) -> None:
    """Run the HTTP decision service.

    Answers POST /v1/decisions (one activity), POST /v1/decisions/batch (a list),
    GET /v1/policy, GET /healthz and GET /openapi.json. The policy is reloaded within
    two seconds of an edit; an edit with errors keeps the last good policy serving.
    With --token-file every endpoint but /healthz needs the bearer token.

    \b
    Example:
        smrules serve --policy policies/ --token-file token.txt --log decisions.db
    """
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        click.echo(
            f"Error: `smrules serve` needs the server extra: {INSTALL_HINT}",
            err=True,
        )
        raise SystemExit(EXIT_USAGE) from None

    from ..decisionlog import DecisionLog, LogError
    from ..reload import PolicyWatcher
    from ..server import create_app

    token = _read_token(token_file) if token_file is not None else None
    path = policy_path if policy_path is not None else default_policy_path()
    policy = load_policy_or_exit(path)
    policy.generate_code()  # full speed from the first request
    sock = _listen(host, port)
    try:
        log = DecisionLog(log_path, sync=log_sync)
    except LogError as err:
        sock.close()
        click.echo(f"Error: {err}", err=True)
        raise SystemExit(EXIT_INVALID) from None

    def report(message: str) -> None:
        click.echo(f"smrules: {message}", err=True)

    watcher = PolicyWatcher(path, policy, report=report)
    app = create_app(watcher, log, token=token, max_body=max_body, max_batch=max_batch)
    shown = f"[{host}]" if ":" in host else host
    report(
        f"serving policy `{policy.name}` {policy.digest} on http://{shown}:{sock.getsockname()[1]}"
        f"; decision log `{log_path}`" + ("; bearer token required" if token else "")
    )
    config = uvicorn.Config(
        app,
        log_level="info",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        watcher.stop()
        log.close()  # also when the server stopped before its lifespan ran
        sock.close()
