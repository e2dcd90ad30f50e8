"""Solve a Sudoku through OpenAI Chat Completions, with recursive-tools' functions as the model's tools.

  python examples/openai_chat.py                        # the OpenAI API (needs OPENAI_API_KEY)
  python examples/openai_chat.py --base-url http://localhost:11434/v1 --model qwen3   # Ollama, llama.cpp, vLLM
  python examples/openai_chat.py --replay               # offline: scripted model replies to the real SDK client
"""

from __future__ import annotations

import sys

from _common import PROMPT, PUZZLE, need_key, openai_client, parser, report

from recursive_tools.adapters.openai_tools import run_chat
from recursive_tools.adapters.replay import Replay, chat_reply, last_tool_output, strict_arguments


def replay_script() -> list:
    """What a model would say: call solve_sudoku (strict mode: every field, null for defaults), then answer."""
    call = ("solve_sudoku", strict_arguments("solve_sudoku", puzzle=PUZZLE, solver="exact"))
    return [chat_reply(tool_calls=[call]),
            lambda body: chat_reply("Here is the solution from the local solver:\n" + last_tool_output(body))]


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, default_model="gpt-5-mini").parse_args(argv)
    need_key(args, "OPENAI_API_KEY")
    client = openai_client(args, lambda: Replay(replay_script()).openai())
    chat = run_chat(client, model=args.model, messages=[{"role": "user", "content": PROMPT}],
                    max_rounds=args.max_rounds)
    return report(chat)


if __name__ == "__main__":
    sys.exit(main())
