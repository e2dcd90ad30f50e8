"""Settings of `recursive-tools serve`, kept free of the MCP SDK so the CLI can build its parser without importing it.

The server itself is in mcp_server.py; this module holds its options, the `serve` command-line arguments and the
rule that decides whether an HTTP binding is safe.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass

from recursive_tools.limits import MAX_TIME_LIMIT_S

MCP_PATH = "/mcp"
TOKEN_ENV = "RECURSIVE_TOOLS_TOKEN"
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class ServerOptions:
    max_concurrent_calls: int = 16  # tool handlers running at once; more calls wait their turn
    call_time_limit_s: float = MAX_TIME_LIMIT_S  # ceiling on any call; a tool's own time_limit_s may be lower
    progress_interval_s: float = 0.25  # at most one progress notification per call per interval
    images: bool = True  # attach a PNG of the solved grid / maze path to solve results
    batching: bool = True  # let the neural bridge gather concurrent solves from all clients into one batch

    def __post_init__(self) -> None:
        if self.max_concurrent_calls < 1:
            raise ValueError(f"max_concurrent_calls must be at least 1, got {self.max_concurrent_calls}")
        if not 0 < self.call_time_limit_s <= MAX_TIME_LIMIT_S:
            raise ValueError(f"call_time_limit_s must be in (0, {MAX_TIME_LIMIT_S}], got {self.call_time_limit_s}")


class UnsafeBindingError(ValueError):
    """The HTTP settings would expose the server without the protections a non-loopback address needs."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http_settings(host: str, allowed_hosts: Sequence[str], token: str | None) -> None:
    """Refuse settings that would expose the server: another interface needs allowed hosts AND a token."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise UnsafeBindingError(f"the bearer token is {len(token)} characters; use at least {MIN_TOKEN_CHARS} "
                                 "random characters, e.g. from `python -c \"import secrets; "
                                 "print(secrets.token_urlsafe(32))\"`")
    if is_loopback(host):
        return
    missing = [what for what, present in (("--allowed-host H (the host names clients use to reach this server)",
                                           bool(allowed_hosts)),
                                          (f"--token T or the {TOKEN_ENV} environment variable", token is not None))
               if not present]
    if missing:
        raise UnsafeBindingError(
            f"refusing to serve on {host}, which is not a loopback address, without " + " and ".join(missing)
            + ". Bind to 127.0.0.1 (the default) for local clients, or give both to expose the server.")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--http", action="store_true",
                        help=f"serve streamable HTTP at {MCP_PATH} instead of stdio")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1; another one needs --allowed-host and a token)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="H", dest="allowed_hosts",
                        help="a Host header value clients use, e.g. solver.example.com or 10.0.0.5:8000 (repeat)")
    parser.add_argument("--token", default=None,
                        help=f"bearer token every HTTP request must send (prefer the {TOKEN_ENV} variable: "
                             "command lines are visible to other users)")
    parser.add_argument("--max-concurrent", type=int, default=ServerOptions.max_concurrent_calls,
                        help="tool calls run at once; more wait (default %(default)s)")
    parser.add_argument("--time-limit", type=float, default=ServerOptions.call_time_limit_s,
                        help="ceiling in seconds on any one call (default %(default)s)")
    parser.add_argument("--no-images", action="store_true", help="do not attach PNG pictures to results")
    parser.add_argument("--no-batching", action="store_true",
                        help="run each neural solve on its own instead of batching concurrent clients (for "
                             "measurements; loads the models at start)")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def options_from_args(args: argparse.Namespace) -> ServerOptions:
    return ServerOptions(max_concurrent_calls=args.max_concurrent, call_time_limit_s=args.time_limit,
                         images=not args.no_images, batching=not args.no_batching)


def token_from_args(args: argparse.Namespace) -> str | None:
    return args.token if args.token is not None else (os.environ.get(TOKEN_ENV) or None)
