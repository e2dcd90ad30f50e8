"""Benchmark the MCP server through the SDK's real client.

    python benchmarks/mcp_server.py [--calls 200] [--clients 32] [--calls-per-client 4]

Prints one table: latency of one solve_sudoku call over stdio with a warm server (p50, p99), the time from starting
`recursive-tools serve` to the first answer, and the throughput of many concurrent HTTP clients asking for neural
solves, with the neural bridge's cross-client micro-batching on and off.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from recursive_tools.examples import EXAMPLES

SERVE = str(Path(sys.executable).with_name("recursive-tools"))
SUDOKU = EXAMPLES["sudoku-easy"].text


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def stdio_latency(calls: int) -> tuple[float, list[float]]:
    """Seconds from spawning the server to its first answer, then the latency of each warm call."""
    arguments = {"puzzle": SUDOKU, "solver": "auto"}
    started = time.perf_counter()
    async with Client(StdioServerParameters(command=SERVE, args=["serve"])) as client:
        first = await client.call_tool("solve_sudoku", arguments)
        start_to_first = time.perf_counter() - started
        assert first.structured_content["verified"], first.content[0].text
        for _ in range(5):
            await client.call_tool("solve_sudoku", arguments)
        latencies = []
        for _ in range(calls):
            began = time.perf_counter()
            await client.call_tool("solve_sudoku", arguments)
            latencies.append(time.perf_counter() - began)
    return start_to_first, latencies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def http_throughput(clients: int, calls_per_client: int, batching: bool) -> tuple[float, int, str]:
    """Neural solves per second from `clients` concurrent sessions; also how many were verified."""
    port = free_port()
    command = [SERVE, "serve", "--http", "--port", str(port), "--max-concurrent", str(clients), "--no-images"]
    server = subprocess.Popen(command + ([] if batching else ["--no-batching"]), stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    arguments = {"puzzle": SUDOKU, "solver": "neural", "trajectories": 1, "explain": False}
    verified = 0
    try:
        await _wait_for_port(port)
        async with Client(url) as probe:  # load the model once before timing
            warm = await probe.call_tool("solve_sudoku", arguments)
            if warm.is_error:
                return 0.0, 0, warm.content[0].text

        async def one_client() -> None:
            nonlocal verified
            async with Client(url) as client:
                for _ in range(calls_per_client):
                    result = await client.call_tool("solve_sudoku", arguments)
                    verified += bool(result.structured_content and result.structured_content["verified"])

        began = time.perf_counter()
        async with anyio.create_task_group() as tasks:
            for _ in range(clients):
                tasks.start_soon(one_client)
        elapsed = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(10)
    return clients * calls_per_client / elapsed, verified, ""


async def _wait_for_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            stream = await anyio.connect_tcp("127.0.0.1", port)
            await stream.aclose()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(0.1)


async def main(args: argparse.Namespace) -> None:
    start_to_first, latencies = await stdio_latency(args.calls)
    rows = [("stdio: start to first answer (9x9, auto)", f"{start_to_first * 1000:.0f} ms"),
            (f"stdio: warm solve_sudoku p50 ({args.calls} calls)", f"{statistics.median(latencies) * 1000:.1f} ms"),
            ("stdio: warm solve_sudoku p99", f"{percentile(latencies, 99) * 1000:.1f} ms")]
    total = args.clients * args.calls_per_client
    rates = {}
    for batching in (True, False):
        rate, verified, note = await http_throughput(args.clients, args.calls_per_client, batching)
        label = f"HTTP: {args.clients} clients, neural 9x9, batching {'on' if batching else 'off'}"
        rows.append((label, f"{rate:.1f} calls/s ({verified}/{total} verified)" if rate else f"n/a: {note}"))
        rates[batching] = rate
    if rates[True] and rates[False]:
        rows.append(("HTTP: batching speed-up", f"{rates[True] / rates[False]:.2f}x"))

    print(f"\n`python benchmarks/mcp_server.py --calls {args.calls} --clients {args.clients} "
          f"--calls-per-client {args.calls_per_client}` on {os.cpu_count()} CPUs\n")
    print("| measure | value |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="warm stdio calls timed")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--calls-per-client", type=int, default=4)
    anyio.run(main, parser.parse_args())
