"""The MCP server driven by the SDK's real client: over stdio (a `recursive-tools serve` subprocess) and over
streamable HTTP (uvicorn on a free loopback port, in a thread)."""

from __future__ import annotations

import base64
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jsonschema
import pytest
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from pydantic import BaseModel

from recursive_tools import tools as catalogue
from recursive_tools.adapters.mcp_server import (RecursiveToolsServer, ServerOptions, UnsafeBindingError,
                                                 check_http_settings, create_http_app)
from recursive_tools.examples import EXAMPLES

TOKEN = "test-token-0123456789abcdef"

# One valid call per tool, and what a correct answer looks like.
VALID_CALLS: dict[str, dict[str, Any]] = {
    "solve_sudoku": {"puzzle": EXAMPLES["sudoku-easy"].text},
    "solve_maze": {"maze": EXAMPLES["maze-small"].text},
    "verify_solution": {"kind": "sudoku", "puzzle": EXAMPLES["sudoku-4x4"].text,
                        "solution": "4132\n3214\n2341\n1423"},
    "describe_solvers": {},
}
BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("solve_sudoku", {"puzzle": "12345"}, "sudoku"),  # too short to be a grid: the parser says what it expected
    ("solve_sudoku", {"puzzle": EXAMPLES["sudoku-easy"].text, "trajectories": 0}, "trajectories"),
    ("solve_maze", {}, "maze"),  # the required argument is missing
    ("describe_solvers", {"kind": "chess"}, "kind"),
    ("no_such_tool", {}, "solve_sudoku"),  # the error lists the tools there are
]


# ---------------------------------------------------------------------------------------------------------------
# A deliberately slow tool, to watch progress notifications and cancellation through a real transport


class CountInput(BaseModel):
    seconds: float


class CountOutput(BaseModel):
    ticks: int
    stopped_by: str


class CountWatcher:
    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.stopped_by = ""

    def handler(self, args: CountInput, ctx: catalogue.ToolContext) -> CountOutput:
        ticks, end = 0, time.monotonic() + args.seconds
        while (reason := ctx.budget.exhausted()) is None and time.monotonic() < end:
            ctx.budget.report(ticks, None, f"tick {ticks}")
            ticks += 1
            time.sleep(0.005)
        self.stopped_by = reason or "finished"
        self.stopped.set()
        return CountOutput(ticks=ticks, stopped_by=self.stopped_by)

    def spec(self) -> catalogue.ToolSpec:
        return catalogue.ToolSpec(name="count", title="Count", description="counts until told to stop",
                                  input_model=CountInput, output_model=CountOutput, handler=self.handler)


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def http_server(server: RecursiveToolsServer, token: str | None = None) -> Iterator[str]:
    port = free_port()
    app = create_http_app(server, host="127.0.0.1", token=token)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        uv.should_exit = True
        thread.join(10)


def http_client(url: str, token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return Client(streamable_http_client(url, http_client=create_mcp_http_client(headers=headers)))


def stdio_client() -> Client:
    script = Path(sys.executable).with_name("recursive-tools")
    return Client(StdioServerParameters(command=str(script), args=["serve"]))


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


async def exercise_every_tool(client: Client) -> None:
    """List the tools, call each one, validate what comes back against its declared output schema."""
    listing = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listing) == {spec.name for spec in catalogue.TOOLS}
    for spec in catalogue.TOOLS:
        tool = listing[spec.name]
        assert tool.input_schema == spec.input_schema() and tool.output_schema == spec.output_schema()
        assert tool.annotations.read_only_hint is spec.read_only
        assert tool.annotations.idempotent_hint is spec.idempotent
        assert tool.annotations.open_world_hint is False and tool.annotations.destructive_hint is False

        result = await client.call_tool(spec.name, VALID_CALLS[spec.name])
        assert not result.is_error, text_of(result)
        jsonschema.validate(result.structured_content, tool.output_schema)
        assert text_of(result)
        if spec.name.startswith("solve_"):
            answer = result.structured_content
            assert answer["status"] == "solved" and answer["verified"], text_of(result)
            images = [block for block in result.content if block.type == "image"]
            assert images and base64.b64decode(images[0].data).startswith(b"\x89PNG")
    verdict = (await client.call_tool("verify_solution", VALID_CALLS["verify_solution"])).structured_content
    assert verdict["valid"] is True


async def exercise_bad_input(client: Client) -> None:
    for name, arguments, mentions in BAD_CALLS:
        result = await client.call_tool(name, arguments)
        assert result.is_error, (name, arguments)
        message = text_of(result)
        assert mentions in message and "error executing tool" not in message.lower(), message


def assert_correct_sudoku(answer: dict[str, Any], puzzle: str) -> None:
    """Check a returned grid independently: it passes the rules and keeps every given."""
    assert answer["status"] == "solved" and answer["verified"]
    verdict = catalogue.get_tool("verify_solution").run(
        {"kind": "sudoku", "puzzle": puzzle, "solution": answer["solution"]})
    assert verdict.valid, verdict.failures


# ---------------------------------------------------------------------------------------------------------------
# Tests


def test_listing_resources_and_prompt_in_process() -> None:
    async def main() -> None:
        async with Client(RecursiveToolsServer()) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            assert names == [spec.name for spec in catalogue.TOOLS]

            uris = {str(resource.uri) for resource in (await client.list_resources()).resources}
            assert {f"recursive-tools://examples/{name}" for name in EXAMPLES} | {"recursive-tools://solvers"} <= uris
            example = await client.read_resource("recursive-tools://examples/sudoku-hard")
            assert example.contents[0].text == EXAMPLES["sudoku-hard"].text
            cards = await client.read_resource("recursive-tools://solvers")
            assert '"exact-sudoku"' in cards.contents[0].text

            prompt = await client.get_prompt("solve_and_explain", {"puzzle": EXAMPLES["maze-small"].text,
                                                                   "kind": "maze"})
            text = prompt.messages[0].content.text
            assert "solve_maze" in text and EXAMPLES["maze-small"].text in text and "verified" in text

    anyio.run(main)


def test_stdio_serve_subprocess() -> None:
    async def main() -> None:
        async with stdio_client() as client:
            await exercise_every_tool(client)
            await exercise_bad_input(client)

    anyio.run(main)


def test_http_tools_errors_and_concurrency() -> None:
    puzzles = [EXAMPLES[name].text for name in ("sudoku-easy", "sudoku-hard", "sudoku-4x4", "sudoku-6x6")]

    async def main(url: str) -> None:
        async with http_client(url) as client:
            await exercise_every_tool(client)
            await exercise_bad_input(client)

            answers: list[tuple[str, dict[str, Any]]] = []

            async def solve(puzzle: str) -> None:
                result = await client.call_tool("solve_sudoku", {"puzzle": puzzle})
                answers.append((puzzle, result.structured_content))

            async with anyio.create_task_group() as tasks:
                for i in range(20):
                    tasks.start_soon(solve, puzzles[i % len(puzzles)])
            assert len(answers) == 20
            for puzzle, answer in answers:
                assert_correct_sudoku(answer, puzzle)

    with http_server(RecursiveToolsServer()) as url:
        anyio.run(main, url)


def test_http_progress_and_cancellation_stop_the_work() -> None:
    watcher = CountWatcher()
    server = RecursiveToolsServer(ServerOptions(progress_interval_s=0.02), specs=[watcher.spec()])

    async def main(url: str) -> None:
        async with http_client(url) as client:
            updates: list[str | None] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                updates.append(message)

            result = await client.call_tool("count", {"seconds": 0.3}, progress_callback=on_progress)
            assert result.structured_content["stopped_by"] == "finished"
            assert 3 <= len(updates) <= 0.3 / 0.02 + 2, updates  # some updates, but rate-limited

            watcher.stopped.clear()
            with anyio.move_on_after(0.3):
                await client.call_tool("count", {"seconds": 30})
            with anyio.fail_after(5):
                while not watcher.stopped.is_set():
                    await anyio.sleep(0.02)
            assert watcher.stopped_by == "cancelled"

    with http_server(server) as url:
        anyio.run(main, url)


def test_http_time_limit_per_call() -> None:
    watcher = CountWatcher()
    server = RecursiveToolsServer(ServerOptions(call_time_limit_s=0.2), specs=[watcher.spec()])

    async def main(url: str) -> None:
        async with http_client(url) as client:
            started = time.monotonic()
            result = await client.call_tool("count", {"seconds": 30})
            assert result.structured_content["stopped_by"] == "time" and time.monotonic() - started < 5

    with http_server(server) as url:
        anyio.run(main, url)


def test_http_refuses_wrong_host_and_origin() -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "test", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    with http_server(RecursiveToolsServer()) as url:
        with httpx2.Client(timeout=10) as http:
            assert http.post(url, json=initialize, headers={**headers, "Host": "evil.example"}).status_code == 421
            assert http.post(url, json=initialize,
                             headers={**headers, "Origin": "http://evil.example"}).status_code == 403
            assert http.post(url, json=initialize, headers=headers).status_code == 200


def test_http_token_is_required_when_set() -> None:
    async def main(url: str) -> None:
        for wrong in (None, "not-the-token-at-all-0000"):
            with pytest.raises(Exception):
                async with http_client(url, wrong) as client:
                    await client.list_tools()
        async with http_client(url, TOKEN) as client:
            result = await client.call_tool("solve_sudoku", {"puzzle": EXAMPLES["sudoku-4x4"].text})
            assert_correct_sudoku(result.structured_content, EXAMPLES["sudoku-4x4"].text)

    with http_server(RecursiveToolsServer(), token=TOKEN) as url:
        with httpx2.Client(timeout=10) as http:
            assert http.post(url, json={}).status_code == 401
            assert http.post(url, json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
        anyio.run(main, url)


@pytest.mark.parametrize(("host", "allowed", "token", "refused"), [
    ("127.0.0.1", (), None, False),
    ("::1", (), None, False),
    ("0.0.0.0", (), None, True),
    ("0.0.0.0", ("solver.example.com",), None, True),
    ("0.0.0.0", (), TOKEN, True),
    ("0.0.0.0", ("solver.example.com",), TOKEN, False),
    ("127.0.0.1", (), "short", True),
])
def test_binding_rules(host: str, allowed: Sequence[str], token: str | None, refused: bool) -> None:
    if refused:
        with pytest.raises(UnsafeBindingError):
            check_http_settings(host, allowed, token)
    else:
        check_http_settings(host, allowed, token)
