"""Launch `recursive-tools serve` over stdio with the MCP SDK's client, list the tools and solve a Sudoku.

  python examples/mcp_client.py                   # offline by nature: no model is involved, only our server
  python examples/mcp_client.py --server "recursive-tools serve"   # another command line for the server

This is what an MCP host (Claude Desktop, an IDE, an agent framework) does behind the scenes.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys

from _common import PUZZLE, server_command
from mcp import Client, StdioServerParameters


async def solve(command: list[str], timeout_s: float) -> int:
    async with Client(StdioServerParameters(command=command[0], args=command[1:]),
                      read_timeout_seconds=timeout_s) as client:
        listing = await client.list_tools()
        print("tools:", ", ".join(tool.name for tool in listing.tools))
        result = await client.call_tool("solve_sudoku", {"puzzle": PUZZLE})
        for block in result.content:
            print(block.text if block.type == "text" else f"[{block.type} block: {block.mime_type}]")
        answer = result.structured_content or {}
        print(f"\nstructured: status={answer.get('status')} verified={answer.get('verified')} "
              f"solver={(answer.get('solver') or {}).get('name')}")
        return 1 if result.is_error or not answer.get("verified") else 0


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--server", help="command line that starts the MCP server over stdio "
                                      "(default: the recursive-tools next to this Python, with 'serve')")
    cli.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each reply")
    args = cli.parse_args(argv)
    command = shlex.split(args.server) if args.server else server_command()
    return asyncio.run(solve(command, args.timeout))


if __name__ == "__main__":
    sys.exit(main())
