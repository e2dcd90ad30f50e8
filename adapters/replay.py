"""Scripted model replies served to the REAL OpenAI / Anthropic SDK clients, offline, through httpx2.MockTransport.

The examples' `--replay` mode and the adapter tests use it: the SDK builds and sends its real requests, which are
recorded (`replay.requests`, the decoded JSON bodies), and each request gets the next scripted reply. A scripted
reply is a JSON body, or a function of the request body that returns one (to quote a tool result back, say).

    replay = Replay([chat_reply(tool_calls=[("solve_sudoku", {"puzzle": "..."})]), chat_reply("Done.")])
    client = replay.openai()
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

Body = dict[str, Any]
Reply = Body | Callable[[Body], Body]
ToolCall = tuple[str, dict[str, Any] | str]  # (tool name, arguments: an object, or raw text the model sent)

OPENAI_BASE_URL = "http://replay.invalid/v1"
ANTHROPIC_BASE_URL = "http://replay.invalid"
REPLAY_MODEL = "replay-model"


@dataclass
class Replay:
    """Serves `script` in order, one reply per request; records every request."""

    script: Sequence[Reply]
    requests: list[Body] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content) if request.content else {}
        self.requests.append(body)
        self.paths.append(request.url.path)
        index = len(self.requests) - 1
        if index >= len(self.script):
            message = f"the replay script has {len(self.script)} replies; request #{index + 1} has none"
            # 400 is not retried by the SDKs; both read error.message from this shape
            return httpx2.Response(400, json={"type": "error",
                                              "error": {"type": "invalid_request_error", "message": message}})
        reply = self.script[index]
        return httpx2.Response(200, json=reply(body) if callable(reply) else reply)

    def http_client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))

    def async_http_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self))

    def openai(self) -> Any:
        import openai
        return openai.OpenAI(api_key="replay", base_url=OPENAI_BASE_URL, http_client=self.http_client(),
                             max_retries=0)

    def async_openai(self) -> Any:
        import openai
        return openai.AsyncOpenAI(api_key="replay", base_url=OPENAI_BASE_URL, http_client=self.async_http_client(),
                                  max_retries=0)

    def anthropic(self) -> Any:
        import anthropic
        return anthropic.Anthropic(api_key="replay", base_url=ANTHROPIC_BASE_URL, http_client=self.http_client(),
                                   max_retries=0)


_ids = itertools.count(1)


def _arguments_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def chat_reply(content: str | None = None, tool_calls: Iterable[ToolCall] = ()) -> Body:
    """A Chat Completions response: text, or tool calls (ids call_1, call_2, ... in script order)."""
    calls = [{"id": f"call_{next(_ids)}", "type": "function",
              "function": {"name": name, "arguments": _arguments_text(arguments)}} for name, arguments in tool_calls]
    message: Body = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {"id": f"chatcmpl-{next(_ids)}", "object": "chat.completion", "created": 0, "model": REPLAY_MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def responses_reply(text: str | None = None, tool_calls: Iterable[ToolCall] = ()) -> Body:
    """A Responses API response: an output message, and/or function_call items."""
    output: list[Body] = []
    if text is not None:
        output.append({"type": "message", "id": f"msg_{next(_ids)}", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]})
    for name, arguments in tool_calls:
        number = next(_ids)
        output.append({"type": "function_call", "id": f"fc_{number}", "call_id": f"call_{number}", "name": name,
                       "arguments": _arguments_text(arguments), "status": "completed"})
    return {"id": f"resp_{next(_ids)}", "object": "response", "created_at": 0, "model": REPLAY_MODEL,
            "status": "completed", "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [], "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2,
                                   "input_tokens_details": {"cached_tokens": 0},
                                   "output_tokens_details": {"reasoning_tokens": 0}}}


def anthropic_reply(text: str | None = None, tool_uses: Iterable[tuple[str, dict[str, Any]]] = ()) -> Body:
    """A Messages API response: a text block and/or tool_use blocks."""
    content: list[Body] = [{"type": "text", "text": text}] if text is not None else []
    content += [{"type": "tool_use", "id": f"toolu_{next(_ids)}", "name": name, "input": tool_input}
                for name, tool_input in tool_uses]
    return {"id": f"msg_{next(_ids)}", "type": "message", "role": "assistant", "model": REPLAY_MODEL,
            "content": content, "stop_reason": "tool_use" if tool_uses else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1}}


def last_tool_output(body: Body) -> str:
    """The text of the last tool result in a request body, for scripted replies that quote it (any of the 3 APIs)."""
    for item in reversed(body.get("messages") or body.get("input") or []):
        if item.get("role") == "tool":
            return _text_of(item["content"])
        if item.get("type") == "function_call_output":
            return _text_of(item["output"])
        content = item.get("content")
        if item.get("role") == "user" and isinstance(content, list):
            for block in reversed(content):
                if block.get("type") == "tool_result":
                    return _text_of(block["content"])
    raise ValueError("the request holds no tool result")


def _text_of(content: str | list[Body]) -> str:
    """A string, or the text parts of a list of content blocks (images and files are left out)."""
    return content if isinstance(content, str) else "".join(block.get("text", "") for block in content)


def strict_arguments(tool_name: str, **given: Any) -> dict[str, Any]:
    """Arguments as an OpenAI strict-mode model sends them: every property present, null where not given."""
    from recursive_tools.tools import get_tool

    properties = get_tool(tool_name).input_schema()["properties"]
    unknown = set(given) - set(properties)
    if unknown:
        raise ValueError(f"{tool_name} has no field(s) {sorted(unknown)}")
    return {name: given.get(name) for name in properties}
