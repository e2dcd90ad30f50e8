"""What every function-calling adapter shares: run one model tool call safely, and hold a conversation's outcome.

The SDK-specific modules (openai_tools, anthropic_tools) only translate between their wire shapes and these objects,
so validation, error wording and result sizing live here once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from recursive_tools import tools as catalogue
from recursive_tools.errors import RecursiveToolsError, ToolInputError
from recursive_tools.limits import MAX_REQUEST_BYTES

log = logging.getLogger(__name__)

MAX_RESULT_CHARS = 6_000  # text sent back to the model per call; the full structured output stays with the app
DEFAULT_MAX_ROUNDS = 8

StopReason = Literal["done", "max_rounds"]


@dataclass(frozen=True)
class ToolCallResult:
    """One executed tool call: compact text for the model, the full structured output for the app."""

    call_id: str
    name: str
    arguments: dict[str, Any] | None  # as decoded (strict-mode nulls dropped); None when undecodable
    text: str
    is_error: bool
    output: BaseModel | None = None  # None when the call never reached the tool (bad JSON, unknown tool, bad input)
    picture: bytes | None = None  # PNG of the solved grid / maze path, when the tool offers one

    def structured(self) -> dict[str, Any] | None:
        """The full structured answer as JSON-ready data, for the app (not for the model's context)."""
        return None if self.output is None else self.output.model_dump(mode="json")


@dataclass(frozen=True)
class ToolReplies:
    """The answer to one model turn's tool calls: what to send back (`messages`) and what the app keeps."""

    messages: list[dict[str, Any]]  # OpenAI: role-tool messages or function_call_output items; Anthropic: one message
    results: list[ToolCallResult]


@dataclass
class Conversation:
    """The outcome of a tool loop: the final model reply, the whole transcript, and every tool call it made."""

    final: Any  # the SDK's last response object
    transcript: list[Any]  # messages / input items, ready to send again to continue the conversation
    calls: list[ToolCallResult] = field(default_factory=list)
    rounds: int = 0  # model requests made
    stop_reason: StopReason = "done"
    text: str | None = None  # the final reply's text

    @property
    def hit_round_cap(self) -> bool:
        return self.stop_reason == "max_rounds"


@dataclass(frozen=True)
class Turn:
    """One model request and the tools it asked for, already run."""

    response: Any  # the SDK's response object
    assistant: list[Any]  # what the model said, as messages / items to append to the transcript
    replies: ToolReplies  # empty when the model called no tool
    text: str | None


def tool_loop(take_turn: Callable[[list[Any]], Turn], transcript: list[Any], max_rounds: int) -> Conversation:
    """Ask the model (`take_turn`) until it answers without calling a tool, at most `max_rounds` requests.

    When the cap is hit, the last calls have still been run and answered, so the transcript can be sent again to
    go on; `stop_reason` is then "max_rounds".
    """
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    calls: list[ToolCallResult] = []
    for round_number in range(1, max_rounds + 1):
        turn = take_turn(transcript)
        transcript.extend(turn.assistant)
        if not turn.replies.results:
            return Conversation(turn.response, transcript, calls, round_number, "done", turn.text)
        transcript.extend(turn.replies.messages)
        calls.extend(turn.replies.results)
    return Conversation(turn.response, transcript, calls, max_rounds, "max_rounds", turn.text or None)


def tool_specs(specs: Sequence[catalogue.ToolSpec] | None) -> tuple[catalogue.ToolSpec, ...]:
    """The tools to expose: the given ones, or the whole catalogue."""
    return tuple(catalogue.TOOLS if specs is None else specs)


def decode_arguments(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    """Turn a model's arguments (a JSON string or an already-decoded object) into a dict, or explain why not."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        if len(raw.encode()) > MAX_REQUEST_BYTES:
            raise ToolInputError(
                f"arguments are {len(raw.encode())} bytes; the limit is {MAX_REQUEST_BYTES} bytes")
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ToolInputError(
                f"arguments are not valid JSON ({exc.msg} at character {exc.pos}); send one JSON object") from None
    if not isinstance(raw, dict):
        raise ToolInputError(f"arguments must be a JSON object, got {type(raw).__name__}")
    return raw


def run_tool_call(name: str, arguments: str | dict[str, Any] | None, call_id: str, *,
                  specs: Sequence[catalogue.ToolSpec] | None = None,
                  context: catalogue.ToolContext | None = None) -> ToolCallResult:
    """Run one tool call and never raise: bad input and failures come back as error text the model can act on."""
    decoded: dict[str, Any] | None = None
    try:
        decoded = decode_arguments(arguments)
        spec = _find(name, tool_specs(specs))
        output = spec.run(decoded, context)
    except RecursiveToolsError as exc:
        return ToolCallResult(call_id, name, decoded, _clip(f"Error: {exc}"), is_error=True)
    except Exception as exc:  # a bug in a tool must not end the app's conversation; the model hears a short reason
        log.exception("tool %s failed", name)
        return ToolCallResult(call_id, name, decoded, f"Error: internal failure in {name}: {type(exc).__name__}: {exc}",
                              is_error=True)
    return ToolCallResult(call_id, name, decoded, _clip(catalogue.summarize(output)),
                          is_error=catalogue.is_error(output), output=output, picture=catalogue.picture(output))


def field_of(obj: Any, name: str, default: Any = None) -> Any:
    """A field of an SDK object or of the equivalent plain dict."""
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def _find(name: str, specs: tuple[catalogue.ToolSpec, ...]) -> catalogue.ToolSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in specs)
    raise ToolInputError(f"unknown tool {name!r}; the tools are: {known}")


def _clip(text: str) -> str:
    if len(text) <= MAX_RESULT_CHARS:
        return text
    return text[:MAX_RESULT_CHARS] + f"\n[cut at {MAX_RESULT_CHARS} characters; the app holds the full answer]"
