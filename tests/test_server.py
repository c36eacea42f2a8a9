"""The HTTP decision service, run for real: `python -m smrules serve` on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
from click.testing import CliRunner

import smrules
from smrules.cli import main as cli
from smrules.commands.serve import command as serve_command
from smrules.decisionlog import read_decisions
from smrules.reload import PolicyWatcher
from smrules.schemas import load_schema

FIXTURE = Path(__file__).parent / "fixtures" / "server" / "policy"
TOKEN = "s3cr3t-token"
DECISION_SCHEMA = jsonschema.Draft202012Validator(load_schema("decision"))


def activity(text: str, **extra: object) -> dict[str, object]:
    return {"kind": "post", "actor": {"id": "e1"}, "content": {"text": text}, **extra}


class Server:
    """`smrules serve` in a subprocess; `url` once `/healthz` answers."""

    def __init__(self, tmp: Path, policy: Path, *args: str) -> None:
        self.log = tmp / "decisions.db"
        self.stderr_path = tmp / "serve.stderr"
        self._stderr = self.stderr_path.open("wb")
        cmd = [sys.executable, "-m", "smrules", "serve", "--policy", str(policy), "--port", "0"]
        cmd += ["--log", str(self.log), *args]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=self._stderr, cwd=tmp, start_new_session=True
        )
        self.url = self._wait_until_up()

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def _wait_until_up(self) -> str:
        deadline = time.monotonic() + 15
        url = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.stderr()}")
            if url is None:
                for line in self.stderr().splitlines():
                    if " on http://" in line:
                        url = line.split(" on ", 1)[1].split(";")[0]
            if url is not None:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        return url
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"server did not come up:\n{self.stderr()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._stderr.close()


@contextlib.contextmanager
def socket_bound() -> Iterator[int]:
    """A loopback port that is taken but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def copy_policy(tmp: Path) -> Path:
    target = tmp / "policy"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> Iterator[Server]:
    """A server with a bearer token, a 64 KiB body limit and batches of at most 5."""
    tmp = tmp_path_factory.mktemp("secured")
    (tmp / "token.txt").write_text(f"  {TOKEN}\n", encoding="utf-8")
    server = Server(
        tmp,
        copy_policy(tmp),
        "--token-file",
        str(tmp / "token.txt"),
        "--max-body",
        "65536",
        "--max-batch",
        "5",
    )
    yield server
    server.stop()


@pytest.fixture
def client(secured: Server) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=secured.url, headers=headers, timeout=10) as c:
        yield c


# ------------------------------------------------------------------ endpoints


def test_healthz_needs_no_token(secured: Server) -> None:
    response = httpx.get(secured.url + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_decision_has_the_decision_json_and_an_id_that_is_in_the_log(
    client: httpx.Client, secured: Server
) -> None:
    response = client.post("/v1/decisions", json=activity("a secret plan", id="draft-1"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    DECISION_SCHEMA.validate(body)
    assert body["decision"] == "deny"
    assert body["activity_id"] == "draft-1"
    assert [f["rule"] for f in body["findings"]] == ["no_secrets"]
    assert body["findings"][0]["hint"] == "Remove the secret before posting."
    assert body["findings"][0]["evidence"][0]["text"] == "secret"
    assert body["policy"]["name"] == "service_demo"
    assert body["policy"]["digest"] == smrules.load(FIXTURE).digest
    logged = {d.decision_id: d for d in read_decisions(secured.log)}
    assert logged[body["decision_id"]].to_dict() == body
    assert logged[body["decision_id"]].activity_id == "draft-1"


def test_allow_and_warn(client: httpx.Client) -> None:
    assert client.post("/v1/decisions", json=activity("hello")).json()["decision"] == "allow"
    warned = client.post("/v1/decisions", json=activity("maybe later")).json()
    assert warned["decision"] == "warn"
    assert warned["findings"][0]["message"] == "Choose your words carefully."


def test_activity_time_is_the_decision_time(client: httpx.Client) -> None:
    body = client.post("/v1/decisions", json=activity("hi", time="2026-11-16T09:00:00+01:00"))
    assert body.json()["time"] == "2026-11-16T08:00:00Z"


@pytest.mark.parametrize(
    "content",
    [b'{"kind": "post",', b"not json", b"", b'{"a": NaN}', b"\xff\xfe", b"[" * 60_000],
    ids=["truncated", "text", "empty", "nan", "not-utf8", "deeply-nested"],
)
def test_invalid_json_is_400_with_an_error_record(client: httpx.Client, content: bytes) -> None:
    for path in ("/v1/decisions", "/v1/decisions/batch"):
        response = client.post(path, content=content)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["index"] is None
        assert "not valid" in body["error"]
        assert body["problems"][0]["path"] == ""
        assert "Traceback" not in response.text


def test_invalid_activity_is_422_with_the_problem_list(client: httpx.Client) -> None:
    response = client.post("/v1/decisions", json={"kind": "pots", "actor": {}})
    assert response.status_code == 422
    body = response.json()
    assert body["index"] is None
    assert body["error"].startswith("invalid activity")
    paths = {p["path"] for p in body["problems"]}
    assert {"kind", "actor.id"} <= paths
    assert all(set(p) == {"path", "message"} for p in body["problems"])


@pytest.mark.parametrize("value", [[], 42, "post", None])
def test_a_non_object_activity_is_422(client: httpx.Client, value: object) -> None:
    response = client.post("/v1/decisions", content=json.dumps(value))
    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == ""


def test_batch_keeps_input_order_with_error_records_for_invalid_items(
    client: httpx.Client, secured: Server
) -> None:
    items = [
        activity("hello", id="a"),
        {"kind": "post"},
        activity("a secret", id="c"),
        7,
        activity("maybe", id="e"),
    ]
    response = client.post("/v1/decisions/batch", json=items)
    assert response.status_code == 200
    out = response.json()
    assert len(out) == 5
    assert [o.get("activity_id") for o in out] == ["a", None, "c", None, "e"]
    assert [o.get("decision") for o in out] == ["allow", None, "deny", None, "warn"]
    assert out[1]["index"] == 1 and out[1]["problems"][0]["path"] == "actor"
    assert out[3]["index"] == 3 and out[3]["problems"][0]["path"] == ""
    for decision in (out[0], out[2], out[4]):
        DECISION_SCHEMA.validate(decision)
    ids = {d.decision_id for d in read_decisions(secured.log)}
    assert {out[0]["decision_id"], out[2]["decision_id"], out[4]["decision_id"]} <= ids
    assert client.post("/v1/decisions/batch", json=[]).json() == []


@pytest.mark.parametrize("value", [{"kind": "post"}, "x", 3, None])
def test_batch_must_be_a_list(client: httpx.Client, value: object) -> None:
    response = client.post("/v1/decisions/batch", content=json.dumps(value))
    assert response.status_code == 422
    assert "list" in response.json()["error"]


def test_batch_over_the_bound_is_413(client: httpx.Client) -> None:
    response = client.post("/v1/decisions/batch", json=[activity("hi")] * 6)
    assert response.status_code == 413
    assert "limit of 5" in response.json()["error"]


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    big = activity("x" * 70_000)
    response = client.post("/v1/decisions", json=big)
    assert response.status_code == 413
    assert "65536 bytes" in response.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        yield b'{"kind": "post", "content": {"text": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}}'

    response = client.post("/v1/decisions/batch", content=chunks())
    assert response.status_code == 413
    assert client.post("/v1/decisions", json=activity("x" * 60_000)).status_code == 200


def test_body_limit_refuses_before_reading_everything(secured: Server) -> None:
    # Announce 1 GB and send a few bytes: the answer comes without waiting for the rest.
    host, port = secured.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n".encode()
            + b"Content-Length: 1000000000\r\n\r\n{"
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/v1/decisions"),
        ("POST", "/v1/decisions/batch"),
        ("GET", "/v1/policy"),
        ("GET", "/openapi.json"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_token_required(secured: Server, method: str, path: str, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    response = httpx.request(
        method, secured.url + path, json=activity("hi"), headers=headers, timeout=5
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "token" in response.json()["error"]


def test_policy_endpoint(client: httpx.Client) -> None:
    body = client.get("/v1/policy").json()
    policy = smrules.load(FIXTURE)
    assert body["name"] == "service_demo"
    assert body["version"] == "1"
    assert body["title"] == "Service test policy"
    assert body["digest"] == policy.digest
    assert body["last_reload_error"] is None
    assert body["rules"] == [rule.to_dict() for rule in policy.rules]
    assert body["rules"][0]["risk"] == "confidentiality"
    assert body["rules"][0]["tags"] == ["security"]


def test_openapi_document(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/v1/decisions",
        "/v1/decisions/batch",
        "/v1/policy",
        "/healthz",
        "/openapi.json",
    }
    # Every reference resolves inside the document.
    refs = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/"):
                refs.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    for ref in refs:
        target = doc
        for part in ref[2:].split("/"):
            target = target[part]
    assert "#/components/schemas/Decision" in refs
    assert "#/components/schemas/Decision_finding" in refs

    # The published schemas judge like the shipped ones: the service's own answers pass.
    def validator(name: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        )

    sample = client.post("/v1/decisions", json=activity("a secret")).json()
    validator("Decision").validate(sample)
    assert not validator("Decision").is_valid({**sample, "findings": [{"rule": "x"}]})
    validator("Activity").validate(activity("hi"))
    assert not validator("Activity").is_valid({"kind": "post"})
    validator("PolicyInfo").validate(client.get("/v1/policy").json())


@pytest.mark.parametrize(
    "method, path, status",
    [("GET", "/nope", 404), ("GET", "/v1/decisions", 405), ("DELETE", "/v1/policy", 405)],
)
def test_unknown_routes_answer_json(
    client: httpx.Client, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert "error" in response.json()


def test_a_decision_that_cannot_be_logged_is_not_answered(tmp_path) -> None:
    from smrules.decisionlog import DecisionLog
    from smrules.server import create_app

    policy = smrules.load(FIXTURE)
    log = DecisionLog(tmp_path / "log.db")
    app = create_app(PolicyWatcher(FIXTURE, policy), log)
    log.close()  # every append now fails

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return [
                await c.post("/v1/decisions", json=activity("hi")),
                await c.post("/v1/decisions/batch", json=[activity("hi")]),
                await c.get("/healthz"),
            ]

    single, batch, health = asyncio.run(ask())
    for response in (single, batch):
        assert response.status_code == 500
        assert response.json() == {"error": "internal error: no decision was returned"}
    assert health.status_code == 200


# ------------------------------------------------------------------ hot reload


def wait_for(predicate, timeout: float = 2.0) -> float:
    """Seconds until `predicate()` held; fails after `timeout`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.05)


def test_hot_reload_swaps_valid_edits_and_keeps_serving_through_broken_ones(tmp_path) -> None:
    policy_dir = copy_policy(tmp_path)
    server = Server(tmp_path, policy_dir)
    try:
        with httpx.Client(base_url=server.url, timeout=5) as c:

            def decision(text: str) -> str:
                return c.post("/v1/decisions", json=activity(text)).json()["decision"]

            old_digest = c.get("/v1/policy").json()["digest"]
            assert decision("a secret") == "deny"
            main = policy_dir / "main.smr"
            source = main.read_text(encoding="utf-8")

            # A valid edit: the rule now warns. New behaviour within 2 seconds.
            main.write_text(source.replace('deny "Do not', 'warn "Do not'), encoding="utf-8")
            wait_for(lambda: decision("a secret") == "warn")
            info = c.get("/v1/policy").json()
            assert info["digest"] != old_digest
            assert info["rules"][0]["effect"] == "warn"
            good_digest = info["digest"]

            # A data file counts too.
            (policy_dir / "data" / "words.yaml").write_text(
                "careful: [maybe, rumour, soon]\n", encoding="utf-8"
            )
            wait_for(lambda: decision("coming soon") == "warn")
            good_digest = c.get("/v1/policy").json()["digest"]

            # A broken edit: the last good policy keeps serving, the error shows.
            main.write_text(source + "\nrule broken {\n  when content.text ==\n}\n", "utf-8")
            wait_for(lambda: c.get("/v1/policy").json()["last_reload_error"] is not None)
            info = c.get("/v1/policy").json()
            assert info["digest"] == good_digest
            error = info["last_reload_error"]
            assert "main.smr:" in error["message"]
            assert error["diagnostics"][0]["file"] == "main.smr"
            assert error["diagnostics"][0]["severity"] == "error"
            assert decision("a secret") == "warn"
            assert decision("coming soon") == "warn"
            assert "not loaded" in server.stderr()

            # Fixing it clears the error and serves the fix.
            main.write_text(source, encoding="utf-8")
            wait_for(lambda: c.get("/v1/policy").json()["last_reload_error"] is None)
            assert decision("a secret") == "deny"

            # The default body limit is 1 MiB.
            assert c.post("/v1/decisions", content=b" " * (1024 * 1024 + 1)).status_code == 413
    finally:
        server.stop()
    assert "Traceback" not in server.stderr()
    digests = {d.policy_digest for d in read_decisions(server.log)}
    assert old_digest in digests and len(digests) >= 3


def test_watcher_notices_an_edit_that_keeps_size_and_mtime(tmp_path) -> None:
    # On a file system with coarse timestamps, an edit right after the last one keeps the mtime.
    policy_dir = copy_policy(tmp_path)
    main = policy_dir / "main.smr"
    main.write_text(main.read_text(encoding="utf-8"), "utf-8")  # just saved
    watcher = PolicyWatcher(policy_dir, smrules.load(policy_dir), interval=60)
    before = main.stat()
    main.write_text(main.read_text(encoding="utf-8").replace("Do not post", "Do NOT post"), "utf-8")
    os.utime(main, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert watcher.check() is True
    assert watcher.policy.evaluate(activity("secret")).findings[0].message.startswith("Do NOT")
    assert watcher.check() is False  # nothing changed since


def test_watcher_notices_new_and_removed_files(tmp_path) -> None:
    policy_dir = copy_policy(tmp_path)
    watcher = PolicyWatcher(policy_dir, smrules.load(policy_dir), interval=60)
    extra = policy_dir / "sub" / "extra.smr"
    extra.parent.mkdir()
    extra.write_text('rule extra {\n  when kind == "post"\n  warn "extra"\n}\n', "utf-8")
    assert watcher.check() is True
    assert "extra" in [r.id for r in watcher.policy.rules]
    extra.unlink()
    assert watcher.check() is True
    assert "extra" not in [r.id for r in watcher.policy.rules]
    (policy_dir / ".hidden").mkdir()
    (policy_dir / ".hidden" / "x.smr").write_text("not a policy", "utf-8")
    assert watcher.check() is False


# ------------------------------------------------------------------ crash safety


def test_every_answered_decision_survives_sigkill(tmp_path) -> None:
    server = Server(tmp_path, copy_policy(tmp_path))
    received: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    texts = ["hello", "a secret", "maybe"]

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5) as c:
            i = 0
            while not killed.is_set():
                i += 1
                try:
                    if i % 4 == 0:
                        batch = [activity(texts[k % 3], id=f"{n}-{i}-{k}") for k in range(10)]
                        r = c.post("/v1/decisions/batch", json=batch)
                        ids = [item["decision_id"] for item in r.json()]
                    else:
                        r = c.post("/v1/decisions", json=activity(texts[i % 3], id=f"{n}-{i}"))
                        ids = [r.json()["decision_id"]]
                except (httpx.TransportError, json.JSONDecodeError):
                    return  # the server is gone
                with lock:
                    received.extend(ids)
                    # Kill right after an answer arrives, while other requests are in flight:
                    # if answers could overtake their commit, this is when it shows.
                    if len(received) >= 300 and not killed.is_set():
                        os.kill(server.proc.pid, signal.SIGKILL)
                        killed.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        assert killed.wait(timeout=20), "the load did not reach 300 decisions"
    finally:
        if not killed.is_set():
            os.kill(server.proc.pid, signal.SIGKILL)
        killed.set()
        server.proc.wait(timeout=5)
        for t in threads:
            t.join(timeout=10)
        server.stop()
    with sqlite3.connect(server.log) as conn:
        stored = {row[0] for row in conn.execute("SELECT decision_id FROM decisions")}
    assert server.proc.returncode == -signal.SIGKILL
    missing = set(received) - stored
    assert not missing, f"{len(missing)} answered decisions are not in the log"
    # The log stays readable by the command line after the crash.
    result = CliRunner().invoke(cli, ["log", "export", "--log", str(server.log)])
    assert result.exit_code == 0
    exported = {json.loads(line)["decision_id"] for line in result.output.splitlines()}
    assert set(received) <= exported


# ------------------------------------------------------------------ starting up


def test_without_the_server_extra_serve_says_how_to_install_it(tmp_path) -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None; sys.modules['starlette'] = None\n"
        "from smrules.cli import main\n"
        "main(['serve', '--policy', sys.argv[1]])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(FIXTURE)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "pip install 'smrules[server]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_policy_is_exit_3_with_diagnostics(tmp_path) -> None:
    (tmp_path / "bad.smr").write_text("rule r {\n  when ==\n}\n", encoding="utf-8")
    result = CliRunner().invoke(serve_command, ["--policy", str(tmp_path / "bad.smr")])
    assert result.exit_code == 3
    assert "bad.smr:2:" in result.output


@pytest.mark.parametrize("content", ["", "  \n", "two words"])
def test_a_bad_token_file_is_a_usage_error(tmp_path, content: str) -> None:
    (tmp_path / "token").write_text(content, encoding="utf-8")
    result = CliRunner().invoke(
        serve_command, ["--policy", str(FIXTURE), "--token-file", str(tmp_path / "token")]
    )
    assert result.exit_code == 2
    assert "--token-file" in result.output


def test_a_missing_token_file_is_a_usage_error(tmp_path) -> None:
    result = CliRunner().invoke(
        serve_command, ["--policy", str(FIXTURE), "--token-file", str(tmp_path / "nope")]
    )
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_a_log_that_is_not_a_decision_log_is_exit_3(tmp_path) -> None:
    (tmp_path / "x.db").write_bytes(b"this is not sqlite" * 100)
    result = CliRunner().invoke(
        serve_command, ["--policy", str(FIXTURE), "--log", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 3
    assert "not a smrules decision log" in result.output


def test_a_port_in_use_is_a_clear_error(tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            serve_command,
            ["--policy", str(FIXTURE), "--port", str(port), "--log", str(tmp_path / "l.db")],
        )
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


# ------------------------------------------------------------------ the example bot

BOT = Path(__file__).parent.parent / "examples" / "approval_bot.py"


@dataclasses.dataclass
class BotRun:
    returncode: int
    stdout: str
    stderr: str


def run_bot(*args: str) -> BotRun:
    """Run the example's `main` in this process (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("approval_bot", BOT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = module.main(list(args))
    return BotRun(code, out.getvalue(), err.getvalue())


def test_example_bot_through_the_python_api() -> None:
    result = run_bot("--policy", str(FIXTURE), "This secret is maybe out")
    assert result.returncode == 1
    assert result.stdout.startswith("Please don't post this yet:")
    assert "No secrets: Do not post secrets." in result.stdout
    assert "Tip: Remove the secret before posting." in result.stdout
    assert "This [secret] is [maybe] out" in result.stdout
    ok = run_bot("--policy", str(FIXTURE), "Hello world")
    assert (ok.returncode, ok.stdout.strip()) == (0, "Looks good to me. You can post this.")


def test_example_bot_over_http(secured: Server, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN, encoding="utf-8")
    result = run_bot("--url", secured.url, "--token-file", str(token), "maybe tomorrow")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("You can post this, but please look at these first:")
    assert "Tip: Rephrase the sentence." in result.stdout
    decision_id = result.stdout.strip().splitlines()[-1].split()[1].rstrip(",")
    assert decision_id in {d.decision_id for d in read_decisions(secured.log)}
    refused = run_bot("--url", secured.url, "maybe tomorrow")  # no token
    assert refused.returncode == 3
    assert "401" in refused.stderr


def test_example_bot_reports_problems_without_a_traceback(tmp_path: Path) -> None:
    invalid = run_bot("--policy", str(FIXTURE), "--kind", "letter", "hi")
    assert invalid.returncode == 3
    assert "kind: must be one of" in invalid.stderr
    with socket_bound() as port:  # nothing answers HTTP there
        unreachable = run_bot("--url", f"http://127.0.0.1:{port}", "hi")
    assert unreachable.returncode == 3
    assert "cannot reach the service" in unreachable.stderr
    for result in (invalid, unreachable):
        assert "Traceback" not in result.stderr
