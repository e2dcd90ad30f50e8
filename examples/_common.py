"""What the example scripts share: command-line options, the client choice (real API, local server, replay), output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from recursive_tools.adapters._calls import Conversation
from recursive_tools.examples import EXAMPLES

PUZZLE = EXAMPLES["sudoku-easy"].text
PROMPT = f"Please solve this Sudoku and tell me whether the answer was checked:\n{PUZZLE}"


def parser(doc: str, default_model: str) -> argparse.ArgumentParser:
    """--model, --base-url, --replay and --max-rounds, with the script's docstring as help."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=default_model, help=f"model name (default {default_model})")
    parser.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://localhost:11434/v1 (Ollama)")
    parser.add_argument("--replay", action="store_true",
                        help="offline: serve scripted model replies to the real SDK client (no key, no network)")
    parser.add_argument("--max-rounds", type=int, default=6, help="most model requests in the tool loop")
    return parser


def need_key(args: argparse.Namespace, variable: str) -> None:
    """Exit with a clear message when a real API is asked for without its key."""
    if not args.replay and not args.base_url and not os.environ.get(variable):
        sys.exit(f"set {variable}, or pass --base-url for a local server, or --replay to run offline")


def openai_client(args: argparse.Namespace, replay_client_factory):
    """The real client (key from OPENAI_API_KEY), one for a local server, or the replay client."""
    if args.replay:
        return replay_client_factory()
    import openai
    api_key = os.environ.get("OPENAI_API_KEY") or ("local" if args.base_url else None)
    return openai.OpenAI(api_key=api_key, base_url=args.base_url)


def report(chat: Conversation) -> int:
    """Print the model's answer and what the app kept; exit status 0 only when the loop ended by itself."""
    print(chat.text or "(no text in the final reply)")
    print(f"\n[{chat.rounds} model requests, {len(chat.calls)} tool calls, stop: {chat.stop_reason}]")
    for call in chat.calls:
        kept = call.structured()
        size = "no structured answer" if kept is None else f"app keeps a {len(json.dumps(kept))}-byte structured answer"
        print(f"- {call.name}: {'error' if call.is_error else 'ok'}; {size}")
    return 0 if chat.stop_reason == "done" else 1


def server_command() -> list[str]:
    """How to launch `recursive-tools serve`: the console script next to this Python, else the one on PATH."""
    script = Path(sys.executable).with_name("recursive-tools")
    return [str(script) if script.exists() else "recursive-tools", "serve"]
