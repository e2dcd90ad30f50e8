"""Our tool catalogue as Anthropic tools: definitions, tool_use -> tool_result, a tool loop, and SDK runner tools.

Three lines give an Anthropic app the tools:

    from recursive_tools.adapters.anthropic_tools import run_messages
    chat = run_messages(anthropic.Anthropic(), model="claude-sonnet-4-5", messages=[{"role": "user", "content": "..."}])
    print(chat.text)            # chat.calls[i].output holds each full structured answer

Or hand `runnable_tools()` to the SDK's own runner: `client.beta.messages.tool_runner(tools=runnable_tools(), ...)`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any

from recursive_tools import tools as catalogue
from recursive_tools.adapters._calls import (
    DEFAULT_MAX_ROUNDS,
    Conversation,
    ToolCallResult,
    ToolReplies,
    Turn,
    field_of,
    run_tool_call,
    tool_loop,
    tool_specs,
)

DEFAULT_MAX_TOKENS = 2048


def anthropic_tools(specs: Sequence[catalogue.ToolSpec] | None = None) -> list[dict[str, Any]]:
    """Definitions for `client.messages.create(tools=...)`."""
    return [_definition(spec) for spec in tool_specs(specs)]


def _definition(spec: catalogue.ToolSpec) -> dict[str, Any]:
    return {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema()}


def tool_result_blocks(result: ToolCallResult, *, pictures: bool = True) -> list[dict[str, Any]]:
    """The content of one tool_result: the compact text, then the PNG picture when there is one."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": result.text}]
    if pictures and result.picture is not None and not result.is_error:
        blocks.append({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                   "data": base64.b64encode(result.picture).decode("ascii")}})
    return blocks


def tool_result_message(content: Iterable[Any], *, specs: Sequence[catalogue.ToolSpec] | None = None,
                        context: catalogue.ToolContext | None = None, pictures: bool = True) -> ToolReplies:
    """Run every tool_use block of an assistant message's content (SDK blocks or dicts; other blocks are skipped).

    `.messages` is ONE user message holding a tool_result per call, in the order of the calls, as the API wants.
    """
    results = [run_tool_call(field_of(block, "name"), field_of(block, "input"), field_of(block, "id"), specs=specs,
                             context=context)
               for block in content if field_of(block, "type") == "tool_use"]
    blocks = []
    for result in results:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": result.call_id,
                                 "content": tool_result_blocks(result, pictures=pictures)}
        if result.is_error:
            block["is_error"] = True
        blocks.append(block)
    return ToolReplies([{"role": "user", "content": blocks}] if blocks else [], results)


def run_messages(client: Any, *, model: str, messages: Sequence[Any], max_tokens: int = DEFAULT_MAX_TOKENS,
                 specs: Sequence[catalogue.ToolSpec] | None = None, max_rounds: int = DEFAULT_MAX_ROUNDS,
                 context: catalogue.ToolContext | None = None, pictures: bool = True,
                 **create_kwargs: Any) -> Conversation:
    """Messages API until the model answers without calling a tool, at most `max_rounds` requests.

    When the cap is hit, the last calls are still run and their results appended, so `transcript` can be sent
    again to go on; `stop_reason` is then "max_rounds".
    """
    definitions = anthropic_tools(specs)

    def take_turn(transcript: list[Any]) -> Turn:
        response = client.messages.create(model=model, max_tokens=max_tokens, messages=transcript,
                                          tools=definitions, **create_kwargs)
        said = {"role": "assistant",
                "content": [block.model_dump(mode="json", exclude_none=True) for block in response.content]}
        replies = tool_result_message(response.content, specs=specs, context=context, pictures=pictures)
        return Turn(response, [said], replies, _text(response))

    return tool_loop(take_turn, list(messages), max_rounds)


def _text(response: Any) -> str:
    return "".join(block.text for block in response.content if block.type == "text")


def runnable_tools(specs: Sequence[catalogue.ToolSpec] | None = None, *,
                   context: catalogue.ToolContext | None = None, pictures: bool = True) -> list[Any]:
    """Our tools for the SDK's own runner: `client.beta.messages.tool_runner(tools=runnable_tools(), ...)`.

    Each is a `BetaBuiltinFunctionTool` (the SDK's base for tools it runs): bad input raises the SDK's `ToolError`,
    so the runner sends the explanation back with `is_error: true`.
    """
    from anthropic.lib.tools import BetaBuiltinFunctionTool, ToolError

    class CatalogueTool(BetaBuiltinFunctionTool):
        def __init__(self, spec: catalogue.ToolSpec) -> None:
            self.spec = spec
            self.last_result: ToolCallResult | None = None  # the full answer of the latest call, for the app

        def to_dict(self) -> Any:
            return _definition(self.spec)

        def call(self, input: object) -> Any:
            result = run_tool_call(self.spec.name, input if isinstance(input, dict) else str(input), "",
                                   specs=(self.spec,), context=context)
            self.last_result = result
            blocks = tool_result_blocks(result, pictures=pictures)
            if result.is_error:
                raise ToolError(blocks)
            return blocks

    return [CatalogueTool(spec) for spec in tool_specs(specs)]
