"""Our tool catalogue as OpenAI function tools (Chat Completions and Responses), a dispatcher and a tool loop.

Three lines give an OpenAI app the tools:

    from recursive_tools.adapters.openai_tools import run_chat
    chat = run_chat(openai.OpenAI(), model="gpt-5", messages=[{"role": "user", "content": "Solve ..."}])
    print(chat.text)            # chat.calls[i].output holds each full structured answer

The definitions are in strict mode: every property is required (optional ones accept null, which the dispatcher
turns back into "use the default"), every object forbids extra keys, and only keywords strict mode accepts remain;
the others (default, minLength, ...) move into the description. Arguments are still validated against the
catalogue's full schema before a tool runs, and invalid ones come back to the model as an error it can fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from recursive_tools import tools as catalogue
from recursive_tools.adapters._calls import (
    DEFAULT_MAX_ROUNDS,
    Conversation,
    ToolCallResult,
    ToolReplies,
    Turn,
    decode_arguments,
    field_of,
    run_tool_call,
    tool_loop,
    tool_specs,
)
from recursive_tools.errors import ToolInputError

# Keywords OpenAI strict mode accepts; `title` is left out only because it costs tokens and says nothing new.
_KEPT = frozenset({"type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
                   "description", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                   "multipleOf", "minItems", "maxItems"})
# Keywords strict mode rejects but a model can still follow when they are spelled out in the description.
_DESCRIBED = {"default": "default", "minLength": "at least {} characters", "maxLength": "at most {} characters",
              "uniqueItems": "items unique: {}", "minProperties": "at least {} keys",
              "maxProperties": "at most {} keys"}


# ---- tool definitions -------------------------------------------------------------------------------------------

def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a JSON Schema into the subset OpenAI strict mode accepts (a new dict; the input is left alone)."""
    return _strict(schema, schema.get("$defs", {}), path="parameters")


def chat_tools(specs: Sequence[catalogue.ToolSpec] | None = None) -> list[dict[str, Any]]:
    """Definitions for `client.chat.completions.create(tools=...)`."""
    return [{"type": "function", "function": _function(spec)} for spec in tool_specs(specs)]


def responses_tools(specs: Sequence[catalogue.ToolSpec] | None = None) -> list[dict[str, Any]]:
    """Definitions for `client.responses.create(tools=...)` (the flat shape)."""
    return [{"type": "function", **_function(spec)} for spec in tool_specs(specs)]


def _function(spec: catalogue.ToolSpec) -> dict[str, Any]:
    return {"name": spec.name, "description": spec.description,
            "parameters": strict_schema(spec.input_schema()), "strict": True}


def _strict(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    if "$ref" in node:
        node = {**_resolve(node["$ref"], defs, path), **{k: v for k, v in node.items() if k != "$ref"}}
    if "allOf" in node:
        if len(node["allOf"]) != 1:
            raise ValueError(f"{path}: allOf with several schemas has no strict-mode form")
        node = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
    if "oneOf" in node:
        node = {**{k: v for k, v in node.items() if k != "oneOf"}, "anyOf": node["oneOf"]}
    if "prefixItems" in node:  # a fixed-length tuple such as [row, col]
        node = _tuple_as_array(node)

    out: dict[str, Any] = {k: v for k, v in node.items() if k in _KEPT}
    notes = [_note(key, node[key]) for key in _DESCRIBED if key in node and node[key] is not None]
    if notes:
        out["description"] = "; ".join(filter(None, [node.get("description"), *notes]))
    if "anyOf" in out:
        out["anyOf"] = [_strict(sub, defs, f"{path}.anyOf[{i}]") for i, sub in enumerate(out["anyOf"])]
    if "items" in out:
        out["items"] = _strict(out["items"], defs, f"{path}.items")
    if out.get("type") == "object" or "properties" in out:
        properties = node.get("properties") or {}
        if not properties:
            raise ValueError(f"{path}: an object without declared properties has no strict-mode form")
        required = set(node.get("required", ()))
        out["properties"] = {
            name: _strict(sub, defs, f"{path}.{name}") if name in required
            else _nullable(_strict(sub, defs, f"{path}.{name}"))
            for name, sub in properties.items()}
        out["required"] = list(properties)
        out["additionalProperties"] = False
    return out


def _resolve(ref: str, defs: dict[str, Any], path: str) -> dict[str, Any]:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or ref[len(prefix):] not in defs:
        raise ValueError(f"{path}: cannot inline $ref {ref!r}")
    return defs[ref[len(prefix):]]


def _tuple_as_array(node: dict[str, Any]) -> dict[str, Any]:
    items = node["prefixItems"]
    distinct = [item for i, item in enumerate(items) if item not in items[:i]]
    rest = {k: v for k, v in node.items() if k not in ("prefixItems", "items", "minItems", "maxItems")}
    return {**rest, "type": "array", "items": distinct[0] if len(distinct) == 1 else {"anyOf": distinct},
            "minItems": len(items), "maxItems": len(items)}


def _note(key: str, value: Any) -> str:
    if key == "default":
        return f"default {json.dumps(value)} (send null for the default)"
    return _DESCRIBED[key].format(json.dumps(value))


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Let an optional property take null, which stands for "not given" in strict mode."""
    kind = schema.get("type")
    if "anyOf" in schema:
        if {"type": "null"} not in schema["anyOf"]:
            schema["anyOf"].append({"type": "null"})
        return schema
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return schema
    if isinstance(kind, (str, list)) and "enum" not in schema and "const" not in schema:
        return {**schema, "type": [*([kind] if isinstance(kind, str) else kind), "null"]}
    described = {"description": schema.pop("description")} if "description" in schema else {}
    return {**described, "anyOf": [schema, {"type": "null"}]}


def drop_strict_nulls(arguments: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Undo `_nullable`: a null for a property the catalogue's schema does not require means "use the default"."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required", ()))
    cleaned: dict[str, Any] = {}
    for key, value in arguments.items():
        if value is None and key in properties and key not in required:
            continue
        sub = properties.get(key)
        if isinstance(value, dict) and isinstance(sub, dict) and "properties" in sub:
            value = drop_strict_nulls(value, sub)
        cleaned[key] = value
    return cleaned


# ---- dispatching the model's calls ------------------------------------------------------------------------------

def run_openai_call(name: str, arguments: str | dict[str, Any] | None, call_id: str, *,
                    specs: Sequence[catalogue.ToolSpec] | None = None,
                    context: catalogue.ToolContext | None = None) -> ToolCallResult:
    """Run one call whose arguments follow the strict definitions (nulls for optional fields)."""
    specs = tool_specs(specs)
    spec = next((s for s in specs if s.name == name), None)
    if spec is not None:
        try:
            arguments = drop_strict_nulls(decode_arguments(arguments), spec.input_schema())
        except ToolInputError:
            pass  # run_tool_call reports the undecodable arguments to the model
    return run_tool_call(name, arguments, call_id, specs=specs, context=context)


def chat_tool_messages(tool_calls: Iterable[Any], *, specs: Sequence[catalogue.ToolSpec] | None = None,
                       context: catalogue.ToolContext | None = None) -> ToolReplies:
    """Run `message.tool_calls` (SDK objects or dicts); `.messages` are the `role: tool` messages to append."""
    results = []
    for call in tool_calls:
        function = field_of(call, "function")
        if field_of(call, "type", "function") != "function" or function is None:
            results.append(ToolCallResult(field_of(call, "id"), str(field_of(call, "type")), None,
                                          "Error: only function tools are available", is_error=True))
            continue
        results.append(run_openai_call(field_of(function, "name"), field_of(function, "arguments"),
                                       field_of(call, "id"), specs=specs, context=context))
    messages = [{"role": "tool", "tool_call_id": r.call_id, "content": r.text} for r in results]
    return ToolReplies(messages, results)


def responses_tool_outputs(output_items: Iterable[Any], *, specs: Sequence[catalogue.ToolSpec] | None = None,
                           context: catalogue.ToolContext | None = None) -> ToolReplies:
    """Run the `function_call` items of `response.output` (SDK objects or dicts; other items are skipped);
    `.messages` are the `function_call_output` items to send as input."""
    results = [run_openai_call(field_of(item, "name"), field_of(item, "arguments"), field_of(item, "call_id"),
                               specs=specs, context=context)
               for item in output_items if field_of(item, "type") == "function_call"]
    items = [{"type": "function_call_output", "call_id": r.call_id, "output": r.text} for r in results]
    return ToolReplies(items, results)


# ---- tool loops -------------------------------------------------------------------------------------------------

def run_chat(client: Any, *, model: str, messages: Sequence[Any],
             specs: Sequence[catalogue.ToolSpec] | None = None, max_rounds: int = DEFAULT_MAX_ROUNDS,
             context: catalogue.ToolContext | None = None, **create_kwargs: Any) -> Conversation:
    """Chat Completions until the model answers without calling a tool, at most `max_rounds` requests.

    When the cap is hit, the last calls are still run and answered, so `transcript` can be sent again to go on;
    `stop_reason` is then "max_rounds".
    """
    definitions = chat_tools(specs)

    def take_turn(transcript: list[Any]) -> Turn:
        response = client.chat.completions.create(model=model, messages=transcript, tools=definitions,
                                                  **create_kwargs)
        message = response.choices[0].message
        replies = chat_tool_messages(message.tool_calls or (), specs=specs, context=context)
        return Turn(response, [_assistant_message(message)], replies, message.content)

    return tool_loop(take_turn, list(messages), max_rounds)


def run_responses(client: Any, *, model: str, input: str | Sequence[Any],
                  specs: Sequence[catalogue.ToolSpec] | None = None, max_rounds: int = DEFAULT_MAX_ROUNDS,
                  context: catalogue.ToolContext | None = None, **create_kwargs: Any) -> Conversation:
    """The Responses API until the model answers without calling a tool, at most `max_rounds` requests.

    The conversation is carried in `input` (no server-side state needed), so it also works with local
    OpenAI-compatible servers; `stop_reason` is "max_rounds" when the cap is hit.
    """
    definitions = responses_tools(specs)

    def take_turn(transcript: list[Any]) -> Turn:
        response = client.responses.create(model=model, input=transcript, tools=definitions, **create_kwargs)
        said = [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in response.output]
        replies = responses_tool_outputs(response.output, specs=specs, context=context)
        return Turn(response, said, replies, response.output_text)

    transcript = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
    return tool_loop(take_turn, transcript, max_rounds)


def _assistant_message(message: Any) -> dict[str, Any]:
    """The assistant turn as a plain dict for the next request (only the fields the API takes back)."""
    out: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [call.model_dump(mode="json", exclude_none=True) for call in message.tool_calls]
    return out
