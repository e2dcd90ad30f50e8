"""The OpenAI adapter against the real `openai` SDK client, served scripted replies through httpx2.MockTransport.

Every assertion about the wire is on the JSON body the SDK itself sent.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from recursive_tools.adapters.openai_tools import (
    chat_tool_messages,
    chat_tools,
    drop_strict_nulls,
    responses_tool_outputs,
    responses_tools,
    run_chat,
    run_responses,
    strict_schema,
)
from recursive_tools.adapters.replay import Replay, chat_reply, last_tool_output, responses_reply, strict_arguments
from recursive_tools.examples import EXAMPLES
from recursive_tools.tools import TOOLS, get_tool

SUDOKU = EXAMPLES["sudoku-easy"].text
MAZE = EXAMPLES["maze-small"].text
USER = [{"role": "user", "content": "Solve it."}]

# The JSON Schema subset OpenAI documents for strict mode (Structured Outputs "supported schemas").
STRICT_KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
                   "description", "title", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
                   "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "$defs", "$ref"}
MAX_NESTING = 10


def assert_strict(node: dict, path: str = "parameters", depth: int = 0) -> None:
    assert depth <= MAX_NESTING, f"{path}: nested deeper than {MAX_NESTING}"
    assert set(node) <= STRICT_KEYWORDS, f"{path}: keywords strict mode rejects: {set(node) - STRICT_KEYWORDS}"
    assert "$ref" not in node and "$defs" not in node, f"{path}: refs must be inlined"
    for i, variant in enumerate(node.get("anyOf", ())):
        assert_strict(variant, f"{path}.anyOf[{i}]", depth + 1)
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    if "object" in types:
        assert node.get("additionalProperties") is False, f"{path}: additionalProperties must be false"
        assert node["required"] == list(node["properties"]), f"{path}: every property must be required"
        for name, sub in node["properties"].items():
            assert_strict(sub, f"{path}.{name}", depth + 1)
    if "array" in types:
        assert_strict(node["items"], f"{path}.items", depth + 1)


def solve_call(**given) -> tuple[str, dict]:
    return "solve_sudoku", strict_arguments("solve_sudoku", **{"puzzle": SUDOKU, "solver": "exact", **given})


def tool_call_ids(reply: dict) -> list[str]:
    return [call["id"] for call in reply["choices"][0]["message"]["tool_calls"]]


# ---- definitions ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("definitions", [chat_tools(), responses_tools()], ids=["chat", "responses"])
def test_every_definition_is_valid_strict_mode(definitions):
    assert [d.get("name") or d["function"]["name"] for d in definitions] == [t.name for t in TOOLS]
    for definition in definitions:
        function = definition.get("function", definition)
        assert definition["type"] == "function" and function["strict"] is True
        assert function["parameters"]["type"] == "object"
        assert_strict(function["parameters"])
        jsonschema.Draft202012Validator.check_schema(function["parameters"])


def test_strict_schema_conversion_of_refs_tuples_defaults_and_optional_objects():
    schema = {
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
        "type": "object",
        "properties": {
            "origin": {"$ref": "#/$defs/Point", "description": "where to start"},
            "cell": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "integer"}]},
            "name": {"type": "string", "maxLength": 5, "default": "a", "title": "Name"},
            "mode": {"oneOf": [{"const": "fast"}, {"const": "slow"}]},
        },
        "required": ["origin"],
    }
    assert strict_schema(schema) == {
        "type": "object",
        "properties": {
            "origin": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"],
                       "additionalProperties": False, "description": "where to start"},
            "cell": {"type": ["array", "null"], "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
            "name": {"type": ["string", "null"],
                     "description": 'default "a" (send null for the default); at most 5 characters'},
            "mode": {"anyOf": [{"const": "fast"}, {"const": "slow"}, {"type": "null"}]},
        },
        "required": ["origin", "cell", "name", "mode"],
        "additionalProperties": False,
    }
    assert "$defs" in schema and "prefixItems" in schema["properties"]["cell"]  # the input is left alone


def test_strict_nulls_mean_defaults_and_pass_the_catalogue_schema():
    samples = {"solve_sudoku": {"puzzle": SUDOKU}, "solve_maze": {"maze": MAZE},
               "verify_solution": {"kind": "sudoku", "puzzle": SUDOKU, "solution": SUDOKU}, "describe_solvers": {}}
    for spec in TOOLS:
        strict = strict_arguments(spec.name, **samples[spec.name])
        jsonschema.validate(strict, strict_schema(spec.input_schema()))
        cleaned = drop_strict_nulls(strict, spec.input_schema())
        assert cleaned == samples[spec.name]
        spec.validate(cleaned)  # jsonschema + pydantic, as a call would


# ---- Chat Completions -------------------------------------------------------------------------------------------

def test_chat_multi_turn_sends_definitions_then_tool_message_then_answer():
    first = chat_reply(tool_calls=[solve_call()])
    replay = Replay([first, lambda body: chat_reply("Solved: " + last_tool_output(body))])
    chat = run_chat(replay.openai(), model="m", messages=USER)

    assert replay.paths == ["/v1/chat/completions"] * 2
    assert replay.requests[0] == {"model": "m", "messages": USER, "tools": chat_tools()}
    call_id, = tool_call_ids(first)
    sent = replay.requests[1]["messages"]
    assert sent[:2] == [USER[0], {"role": "assistant", "content": None,
                                  "tool_calls": first["choices"][0]["message"]["tool_calls"]}]
    assert sent[2]["role"] == "tool" and sent[2]["tool_call_id"] == call_id
    assert "verified" in sent[2]["content"] and "exact" in sent[2]["content"]
    assert len(sent[2]["content"]) < 2_000  # compact for the model's context

    assert chat.stop_reason == "done" and chat.rounds == 2
    assert chat.text == "Solved: " + sent[2]["content"]
    answer = chat.calls[0].output
    assert answer.verified and answer.status == "solved" and answer.solution is not None  # full answer for the app
    assert chat.calls[0].structured()["kind"] == "sudoku"
    assert chat.transcript[-1] == {"role": "assistant", "content": chat.text}


def test_chat_two_calls_in_one_turn_answered_in_order():
    first = chat_reply(tool_calls=[solve_call(), ("solve_maze", strict_arguments("solve_maze", maze=MAZE))])
    replay = Replay([first, chat_reply("Both done.")])
    chat = run_chat(replay.openai(), model="m", messages=USER)

    tool_messages = replay.requests[1]["messages"][2:]
    assert [m["tool_call_id"] for m in tool_messages] == tool_call_ids(first)
    assert [m["role"] for m in tool_messages] == ["tool", "tool"]
    assert "sudoku solved" in tool_messages[0]["content"] and "maze solved" in tool_messages[1]["content"]
    assert [c.name for c in chat.calls] == ["solve_sudoku", "solve_maze"]


def test_chat_invalid_arguments_come_back_as_errors_the_model_fixes():
    bad = chat_reply(tool_calls=[solve_call(trajectories=500), ("solve_sudoku", '{"puzzle": ')])
    replay = Replay([bad, chat_reply(tool_calls=[solve_call()]), chat_reply("Fixed and solved.")])
    chat = run_chat(replay.openai(), model="m", messages=USER)

    errors = [m["content"] for m in replay.requests[1]["messages"][2:]]
    assert errors[0].startswith("Error: solve_sudoku: invalid trajectories") and "64" in errors[0]
    assert errors[1].startswith("Error: arguments are not valid JSON")
    assert [c.is_error for c in chat.calls] == [True, True, False]
    assert chat.calls[0].output is None and chat.calls[2].output.verified
    assert chat.stop_reason == "done" and chat.text == "Fixed and solved."


def test_chat_round_cap_stops_with_a_reason_and_a_resumable_transcript():
    replay = Replay([chat_reply(tool_calls=[solve_call()]) for _ in range(3)])
    chat = run_chat(replay.openai(), model="m", messages=USER, max_rounds=2)

    assert len(replay.requests) == 2 and chat.rounds == 2
    assert chat.stop_reason == "max_rounds" and chat.hit_round_cap
    assert chat.transcript[-1]["role"] == "tool"  # the last calls were answered: send the transcript to go on
    assert len(chat.calls) == 2
    with pytest.raises(ValueError, match="max_rounds"):
        run_chat(replay.openai(), model="m", messages=USER, max_rounds=0)


def test_chat_dispatcher_takes_plain_dicts_and_reports_unknown_tools():
    calls = [{"id": "a", "type": "function", "function": {"name": "no_such_tool", "arguments": "{}"}},
             {"id": "b", "type": "function", "function": {"name": "describe_solvers", "arguments": {"kind": None}}}]
    replies = chat_tool_messages(calls)
    assert replies.messages[0] == {"role": "tool", "tool_call_id": "a", "content": (
        "Error: unknown tool 'no_such_tool'; the tools are: solve_sudoku, solve_maze, verify_solution, "
        "describe_solvers")}
    assert replies.messages[1]["tool_call_id"] == "b" and "exact-sudoku" in replies.messages[1]["content"]


# ---- Responses API ----------------------------------------------------------------------------------------------

def test_responses_multi_turn_sends_function_call_output_items():
    first = responses_reply(tool_calls=[solve_call()])
    replay = Replay([first, lambda body: responses_reply("Solved: " + last_tool_output(body))])
    chat = run_responses(replay.openai(), model="m", input="Solve it.")

    assert replay.paths == ["/v1/responses"] * 2
    assert replay.requests[0] == {"model": "m", "input": USER, "tools": responses_tools()}
    call = first["output"][0]
    sent = replay.requests[1]["input"]
    assert sent[1] == call  # the model's function_call item goes back as it came
    assert sent[2]["type"] == "function_call_output" and sent[2]["call_id"] == call["call_id"]
    assert "verified" in sent[2]["output"]
    assert chat.text == "Solved: " + sent[2]["output"] and chat.calls[0].output.verified


def test_responses_two_calls_one_invalid_and_round_cap():
    first = responses_reply(tool_calls=[solve_call(), solve_call(box="nine")])
    replay = Replay([first, first])
    chat = run_responses(replay.openai(), model="m", input=USER, max_rounds=1)

    assert len(replay.requests) == 1 and chat.stop_reason == "max_rounds"
    outputs = [item for item in chat.transcript if item.get("type") == "function_call_output"]
    assert [o["call_id"] for o in outputs] == [item["call_id"] for item in first["output"]]
    assert "verified" in outputs[0]["output"]
    assert outputs[1]["output"].startswith("Error: solve_sudoku: invalid box")


def test_responses_dispatcher_skips_other_items():
    items = [{"type": "reasoning", "id": "r", "summary": []},
             {"type": "function_call", "call_id": "c", "name": "solve_sudoku", "arguments": json.dumps({"puzzle": 7})}]
    replies = responses_tool_outputs(items)
    assert len(replies.messages) == 1 and replies.messages[0]["call_id"] == "c"
    assert replies.messages[0]["output"].startswith("Error: solve_sudoku: invalid puzzle")
    assert get_tool("solve_sudoku").name == replies.results[0].name
