"""An OpenAI Agents SDK agent that uses recursive-tools through its MCP server (launched over stdio).

  python examples/openai_agents_mcp.py                  # the OpenAI API (needs OPENAI_API_KEY)
  python examples/openai_agents_mcp.py --base-url http://localhost:11434/v1 --model qwen3   # Chat Completions server
  python examples/openai_agents_mcp.py --replay         # offline: scripted model replies, real agent + MCP server
"""

from __future__ import annotations

import asyncio
import os
import sys

from _common import PROMPT, PUZZLE, need_key, parser, server_command
from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner, set_tracing_disabled
from agents.mcp import MCPServerStdio

from recursive_tools.adapters.replay import Replay, last_tool_output, responses_reply


def replay_script() -> list:
    """What a model would say through the Responses API: call the MCP tool, then answer with its text."""
    return [responses_reply(tool_calls=[("solve_sudoku", {"puzzle": PUZZLE})]),
            lambda body: responses_reply("Here is the solution from the local solver:\n" + last_tool_output(body))]


def model_for(args):
    if args.replay:
        set_tracing_disabled(True)  # nothing may leave the machine in replay mode
        return OpenAIResponsesModel(model=args.model, openai_client=Replay(replay_script()).async_openai())
    if args.base_url:  # local servers speak Chat Completions
        import openai
        client = openai.AsyncOpenAI(api_key=os.environ.get("OPENAI_API_KEY") or "local", base_url=args.base_url)
        return OpenAIChatCompletionsModel(model=args.model, openai_client=client)
    return args.model


async def run(args) -> int:
    command = server_command()
    async with MCPServerStdio(params={"command": command[0], "args": command[1:]}, name="recursive-tools",
                              cache_tools_list=True, client_session_timeout_seconds=60) as server:
        agent = Agent(name="Puzzle helper", model=model_for(args), mcp_servers=[server],
                      instructions="Use the recursive-tools tools for puzzles; never solve them yourself. "
                                   "Say whether the answer was verified and by which solver.")
        result = await Runner.run(agent, PROMPT, max_turns=args.max_rounds)
        print(result.final_output)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, default_model="gpt-5-mini").parse_args(argv)
    need_key(args, "OPENAI_API_KEY")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
