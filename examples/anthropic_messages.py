"""Solve a Sudoku through the Anthropic Messages API, with recursive-tools' functions as Claude's tools.

  python examples/anthropic_messages.py                 # the Anthropic API (needs ANTHROPIC_API_KEY)
  python examples/anthropic_messages.py --base-url http://localhost:4000   # an Anthropic-compatible gateway
  python examples/anthropic_messages.py --replay        # offline: scripted model replies to the real SDK client
  python examples/anthropic_messages.py --runner        # the SDK's own tool runner instead of our loop

The tool results carry the compact text and a PNG of the solved grid; the app keeps the full structured answer.
"""

from __future__ import annotations

import os
import sys

from _common import PROMPT, PUZZLE, need_key, parser, report

from recursive_tools.adapters.anthropic_tools import run_messages, runnable_tools
from recursive_tools.adapters.replay import Replay, anthropic_reply, last_tool_output


def replay_script() -> list:
    """What Claude would say: call solve_sudoku, then answer with the tool's text."""
    return [anthropic_reply("I'll hand this to the solver.", tool_uses=[("solve_sudoku", {"puzzle": PUZZLE,
                                                                                          "solver": "exact"})]),
            lambda body: anthropic_reply("Here is the solution from the local solver:\n" + last_tool_output(body))]


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, default_model="claude-sonnet-4-5")
    cli.add_argument("--runner", action="store_true", help="use client.beta.messages.tool_runner")
    args = cli.parse_args(argv)
    need_key(args, "ANTHROPIC_API_KEY")
    if args.replay:
        client = Replay(replay_script()).anthropic()
    else:
        import anthropic
        client = anthropic.Anthropic(api_key=os.environ.get("ANTHROPIC_API_KEY") or "local", base_url=args.base_url)
    messages = [{"role": "user", "content": PROMPT}]
    if args.runner:
        tools = runnable_tools()
        runner = client.beta.messages.tool_runner(model=args.model, max_tokens=2048, messages=messages, tools=tools,
                                                  max_iterations=args.max_rounds)
        final = runner.until_done()
        print("".join(block.text for block in final.content if block.type == "text"))
        for tool in tools:
            if tool.last_result is not None:
                print(f"- {tool.name}: {'error' if tool.last_result.is_error else 'ok'}")
        return 0
    return report(run_messages(client, model=args.model, messages=messages, max_rounds=args.max_rounds))


if __name__ == "__main__":
    sys.exit(main())
