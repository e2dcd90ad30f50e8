"""The MCP server: every tool of the catalogue, the solver cards and example puzzles, over stdio or streamable HTTP.

The server is generated from `recursive_tools.tools.TOOLS`: each ToolSpec becomes one MCP tool with its own input
and output JSON schemas and truthful annotations. A call runs the spec's synchronous handler in a worker thread
(at most `max_concurrent_calls` at once) under a Budget whose deadline is the server's per-call ceiling, whose
cancel event is set when the client cancels the request, and whose progress reports reach the client as
rate-limited `notifications/progress`. Models are loaded once per process by the pipeline, so every session of
one server shares them (and the neural micro-batcher can gather calls from different clients).

    recursive-tools serve                                      # stdio, what desktop clients launch
    recursive-tools serve --http [--host 127.0.0.1] [--port 8000] [--allowed-host H ...] [--token T]
"""

from __future__ import annotations

import argparse
import base64
import hmac
import logging
import threading
import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.prompts import Prompt
from mcp.server.mcpserver.resources import FunctionResource, TextResource
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, ContentBlock, ImageContent, TextContent, Tool, ToolAnnotations
from pydantic import Field
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from recursive_tools import __version__, pipeline
from recursive_tools import tools as catalogue
from recursive_tools.adapters._calls import ToolCallResult, run_tool_call
from recursive_tools.adapters.serve_config import (MCP_PATH, ServerOptions, UnsafeBindingError, add_serve_arguments,
                                                   check_http_settings, options_from_args, token_from_args)
from recursive_tools.examples import EXAMPLES
from recursive_tools.solvers.budget import Budget

log = logging.getLogger(__name__)

SERVER_NAME = "recursive-tools"
LOOPBACK_HOST_PATTERNS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
EXAMPLE_URI = "recursive-tools://examples/{name}"
SOLVERS_URI = "recursive-tools://solvers"

INSTRUCTIONS = (
    "Hand grid puzzles (Sudoku 4x4 to 25x25, mazes up to 64x64) to these tools instead of solving them yourself. "
    "Every answer is checked against the puzzle's rules: trust `verified`, quote the solver and the checks, and "
    "report 'no_solution', 'multiple_solutions' or an input error as they are, never a grid of your own. "
    "Example puzzles are resources under recursive-tools://examples/; the solvers and limits are at "
    "recursive-tools://solvers.")


class RecursiveToolsServer(MCPServer):
    """An MCPServer whose tools come from the catalogue: explicit schemas, catalogue validation and error text."""

    def __init__(self, options: ServerOptions | None = None,
                 specs: Sequence[catalogue.ToolSpec] | None = None, *, log_level: str = "WARNING") -> None:
        super().__init__(SERVER_NAME, title="Recursive Tools", version=__version__, instructions=INSTRUCTIONS,
                         log_level=log_level)
        self.options = options or ServerOptions()
        self.specs: tuple[catalogue.ToolSpec, ...] = tuple(catalogue.TOOLS if specs is None else specs)
        self._listing = [_mcp_tool(spec) for spec in self.specs]
        self._limiter = anyio.CapacityLimiter(self.options.max_concurrent_calls)
        self._add_resources()
        self.add_prompt(Prompt.from_function(solve_and_explain, name="solve_and_explain",
                                             title="Solve a puzzle and explain the verified answer"))

    async def list_tools(self) -> list[Tool]:
        return list(self._listing)

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Context | None = None) -> CallToolResult:
        outcome = await self._run_in_worker(name, arguments, context)
        content: list[ContentBlock] = [TextContent(text=outcome.text)]
        if outcome.picture is not None and self.options.images and not outcome.is_error:
            content.append(ImageContent(data=base64.b64encode(outcome.picture).decode(), mime_type="image/png"))
        return CallToolResult(content=content, structured_content=outcome.structured(), is_error=outcome.is_error)

    async def _run_in_worker(self, name: str, arguments: dict[str, Any], context: Context | None) -> ToolCallResult:
        """Run one call in a worker thread; progress goes to the client, cancellation stops the work."""
        cancel = threading.Event()
        send, receive = anyio.create_memory_object_stream[tuple[float, float | None, str]](max_buffer_size=4)
        relay = _ProgressRelay(send, anyio.lowlevel.current_token(), self.options.progress_interval_s)
        request = _request_of(context)
        call_id = "local" if request is None else str(request.request_id)

        def work() -> ToolCallResult:
            # The deadline starts when a worker picks the call up, not while it waits for a free slot.
            budget = Budget.of(self.options.call_time_limit_s, cancel=cancel, progress=relay)
            return run_tool_call(name, arguments, call_id, specs=self.specs,
                                 context=catalogue.ToolContext(budget=budget))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_forward_progress, receive, request, cancel)
            try:
                # Not abandoned on cancel: the forwarder sets `cancel`, the handler returns soon after, and the
                # slot is released only once the work has really stopped.
                return await anyio.to_thread.run_sync(work, limiter=self._limiter)
            finally:
                tasks.cancel_scope.cancel()

    def _add_resources(self) -> None:
        for name, example in EXAMPLES.items():
            tool = f"solve_{example.kind}"
            self.add_resource(TextResource(
                uri=EXAMPLE_URI.format(name=name), name=name, title=f"Example: {example.description}",
                description=f"{example.description}. Pass this text to {tool} to try the server.",
                mime_type="text/plain", text=example.text))
        describe = next((spec for spec in self.specs if spec.name == "describe_solvers"), None)
        if describe is not None:
            self.add_resource(FunctionResource(
                uri=SOLVERS_URI, name="solvers", title="Solver cards and request limits",
                description="Every solver (recursive neural models with their measured accuracy, exact solvers), "
                            "the puzzle sizes each handles, and the request limits, as JSON.",
                mime_type="application/json",
                fn=lambda: describe.run({}).model_dump_json(indent=2)))


def _request_of(context: Context | None) -> ServerRequestContext | None:
    """The wire request behind a call, or None for a direct in-process call_tool()."""
    try:
        return None if context is None else context.request_context
    except ValueError:
        return None


def _mcp_tool(spec: catalogue.ToolSpec) -> Tool:
    return Tool(
        name=spec.name, title=spec.title, description=spec.description,
        input_schema=spec.input_schema(), output_schema=spec.output_schema(),
        annotations=ToolAnnotations(title=spec.title, read_only_hint=spec.read_only, destructive_hint=False,
                                    idempotent_hint=spec.idempotent, open_world_hint=spec.open_world))


class _ProgressRelay:
    """A Budget progress callback: hands at most one update per interval from any thread to the event loop."""

    def __init__(self, send: MemoryObjectSendStream[tuple[float, float | None, str]],
                 token: anyio.lowlevel.EventLoopToken, interval_s: float) -> None:
        self._send = send
        self._token = token
        self._interval_s = interval_s
        self._next_at = 0.0
        self._lock = threading.Lock()

    def __call__(self, progress: float, total: float | None, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._next_at:
                return
            self._next_at = now + self._interval_s
        try:
            anyio.from_thread.run_sync(self._offer, (progress, total, message), token=self._token)
        except anyio.RunFinishedError:  # the server is shutting down; nobody is listening any more
            pass

    def _offer(self, update: tuple[float, float | None, str]) -> None:
        try:
            self._send.send_nowait(update)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # a slow client skips an update rather than slowing the solve


async def _forward_progress(updates: MemoryObjectReceiveStream[tuple[float, float | None, str]],
                            request: ServerRequestContext | None, cancel: threading.Event) -> None:
    """Send progress to the client until the call ends; if the call is cancelled, tell the worker to stop."""
    try:
        async for progress, total, message in updates:
            if request is None:
                continue
            try:  # a no-op unless the client asked for progress (sent a progress token)
                await request.session.report_progress(progress, total, message)
            except Exception:  # a closed connection must not fail the call itself
                log.debug("progress notification not delivered", exc_info=True)
    finally:
        cancel.set()


def solve_and_explain(
        puzzle: Annotated[str, Field(description="the puzzle as text: a Sudoku grid or an ASCII maze")],
        kind: Annotated[Literal["sudoku", "maze"], Field(description="'sudoku' or 'maze'")] = "sudoku",
) -> str:
    """Walk through solving a puzzle with the tools and explaining the verified answer to the user."""
    tool, argument = ("solve_maze", "maze") if kind == "maze" else ("solve_sudoku", "puzzle")
    return (
        f"Please solve this {kind} and explain the answer.\n\n{puzzle}\n\n"
        f"1. Call the `{tool}` tool with the puzzle above as `{argument}` (keep it exactly as written). Do not try to "
        f"solve it yourself first.\n"
        f"2. If the result is an error (status 'invalid_input'), tell me what the tool says is wrong with the input "
        f"and how to fix it; do not guess a solution.\n"
        f"3. If `status` is 'no_solution' or 'multiple_solutions', say so and pass on the tool's reason (for several "
        f"solutions, where they differ).\n"
        f"4. If `status` is 'solved', show the solution{' path' if kind == 'maze' else ' grid'}, say whether "
        f"`verified` is true and how many checks passed, which solver found it (`solver.name`, and for a neural "
        f"model its recursion steps and halting confidence), and whether it is unique.\n"
        f"5. Explain the solution in a few short steps, using the tool's `explanation` list; do not invent steps it "
        f"does not give.\n"
        f"6. If I later propose my own answer, check it with `verify_solution` before commenting on it.")


# ---------------------------------------------------------------------------------------------------------------
# HTTP transport: Host/Origin checks, bearer token, uvicorn


def transport_security(allowed_hosts: Sequence[str]) -> TransportSecuritySettings:
    """Host and Origin checks (DNS-rebinding protection): loopback names plus the explicitly allowed hosts."""
    hosts = list(LOOPBACK_HOST_PATTERNS)
    origins = [f"http://{pattern}" for pattern in LOOPBACK_HOST_PATTERNS]
    for host in allowed_hosts:
        hosts.append(host)
        if ":" not in host.replace("[::1]", ""):  # a bare name also matches with any port
            hosts.append(f"{host}:*")
        origins += [f"http://{host}", f"https://{host}"]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                     allowed_origins=origins)


class BearerTokenGate:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>` (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            supplied = Headers(scope=scope).get("authorization", "").encode("latin-1")
            if not hmac.compare_digest(supplied, self._expected):
                response = JSONResponse(
                    {"error": "invalid_token",
                     "error_description": "send the server's token as 'Authorization: Bearer <token>'"},
                    status_code=401, headers={"WWW-Authenticate": 'Bearer realm="recursive-tools"'})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_http_app(server: RecursiveToolsServer, *, host: str = "127.0.0.1", allowed_hosts: Sequence[str] = (),
                    token: str | None = None) -> ASGIApp:
    """The streamable HTTP app at /mcp, with Host/Origin checks and, when a token is set, the bearer gate."""
    check_http_settings(host, allowed_hosts, token)
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host,
                                     transport_security=transport_security(allowed_hosts))
    return BearerTokenGate(app, token) if token is not None else app


# ---------------------------------------------------------------------------------------------------------------
# `recursive-tools serve` (its arguments are defined in serve_config, which the CLI imports without the SDK)

__all__ = ["RecursiveToolsServer", "ServerOptions", "UnsafeBindingError", "add_serve_arguments", "check_http_settings",
           "create_http_app", "run_serve"]


def disable_neural_batching() -> list[str]:
    """Load every registered neural solver now and make its micro-batcher run each request alone."""
    names = []
    for registration in pipeline.neural_registrations():
        batcher = getattr(registration.load(), "batcher", None)
        if batcher is not None:
            batcher.max_batch = 1
            names.append(registration.name)
    return names


def run_serve(args: argparse.Namespace) -> int:
    """Run the server until the client disconnects (stdio) or the process is interrupted (HTTP)."""
    try:
        options = options_from_args(args)
    except ValueError as error:
        raise SystemExit(f"recursive-tools serve: {error}") from None
    server = RecursiveToolsServer(options, log_level=args.log_level)
    if not options.batching:
        unbatched = disable_neural_batching()
        log.warning("neural batching off for %s", ", ".join(unbatched) or "no neural solver")
    if not args.http:
        anyio.run(server.run_stdio_async)
        return 0

    import uvicorn

    token = token_from_args(args)
    try:
        app = create_http_app(server, host=args.host, allowed_hosts=args.allowed_hosts, token=token)
    except UnsafeBindingError as error:
        raise SystemExit(f"recursive-tools serve: {error}") from None
    print(f"recursive-tools MCP server on http://{args.host}:{args.port}{MCP_PATH}"
          + (" (bearer token required)" if token else ""), flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower())
    return 0

