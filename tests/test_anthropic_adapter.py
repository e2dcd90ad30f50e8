"""The Anthropic adapter against the real `anthropic` SDK client, served scripted replies through httpx2.MockTransport.

Every assertion about the wire is on the JSON body the SDK itself sent.
"""

from __future__ import annotations

import base64

import pytest

from recursive_tools.adapters.anthropic_tools import (
    anthropic_tools,
    run_messages,
    runnable_tools,
    tool_result_message,
)
from recursive_tools.adapters.replay import Replay, anthropic_reply, last_tool_output
from recursive_tools.examples import EXAMPLES
from recursive_tools.tools import TOOLS

SUDOKU = EXAMPLES["sudoku-easy"].text
MAZE = EXAMPLES["maze-small"].text
USER = [{"role": "user", "content": "Solve it."}]
SOLVE = ("solve_sudoku", {"puzzle": SUDOKU, "solver": "exact"})
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tool_use_ids(reply: dict) -> list[str]:
    return [block["id"] for block in reply["content"] if block["type"] == "tool_use"]


def test_definitions_are_the_catalogue_schemas():
    replay = Replay([anthropic_reply("Nothing to solve.")])
    chat = run_messages(replay.anthropic(), model="m", messages=USER, max_tokens=100)

    assert replay.paths == ["/v1/messages"]
    assert replay.requests[0] == {"model": "m", "max_tokens": 100, "messages": USER, "tools": anthropic_tools()}
    assert anthropic_tools() == [{"name": t.name, "description": t.description, "input_schema": t.input_schema()}
                                 for t in TOOLS]
    assert chat.text == "Nothing to solve." and chat.calls == [] and chat.rounds == 1


def test_two_tool_uses_become_one_user_message_with_text_and_picture():
    first = anthropic_reply("Solving both.", tool_uses=[SOLVE, ("solve_maze", {"maze": MAZE})])
    replay = Replay([first, lambda body: anthropic_reply("Done: " + last_tool_output(body))])
    chat = run_messages(replay.anthropic(), model="m", messages=USER)

    sent = replay.requests[1]["messages"]
    assert len(sent) == 3
    assert sent[1] == {"role": "assistant", "content": first["content"]}
    assert sent[2]["role"] == "user"
    results = sent[2]["content"]
    assert [r["type"] for r in results] == ["tool_result", "tool_result"]
    assert [r["tool_use_id"] for r in results] == tool_use_ids(first)
    assert not any(r.get("is_error") for r in results)
    for result, kind in zip(results, ["sudoku", "maze"]):
        text, image = result["content"]
        assert text["type"] == "text" and text["text"].startswith(f"{kind} solved") and "verified" in text["text"]
        assert image["type"] == "image" and image["source"]["media_type"] == "image/png"
        assert base64.b64decode(image["source"]["data"]).startswith(PNG_MAGIC)
    assert chat.calls[1].output.path[0] == [1, 1]  # the full answer stays with the app
    assert chat.text.startswith("Done: maze solved")


def test_invalid_input_is_an_error_result_the_model_can_fix():
    bad = anthropic_reply(tool_uses=[("solve_sudoku", {"puzzle": SUDOKU, "trajectories": 0}),
                                     ("solve_sudoku", {"puzzle": "1 2 3"})])
    replay = Replay([bad, anthropic_reply(tool_uses=[SOLVE]), anthropic_reply("Solved after fixing my call.")])
    chat = run_messages(replay.anthropic(), model="m", messages=USER, pictures=False)

    results = replay.requests[1]["messages"][2]["content"]
    assert [r["is_error"] for r in results] == [True, True]
    schema_error, = results[0]["content"]
    assert schema_error["text"].startswith("Error: solve_sudoku: invalid trajectories")
    parse_error, = results[1]["content"]
    assert parse_error["text"].startswith("Invalid sudoku input")
    fixed, = replay.requests[2]["messages"][4]["content"]
    assert "is_error" not in fixed and [b["type"] for b in fixed["content"]] == ["text"]  # pictures=False
    assert chat.text == "Solved after fixing my call." and [c.is_error for c in chat.calls] == [True, True, False]


def test_round_cap_stops_with_a_reason():
    replay = Replay([anthropic_reply(tool_uses=[SOLVE])] * 3)
    chat = run_messages(replay.anthropic(), model="m", messages=USER, max_rounds=2, pictures=False)
    assert len(replay.requests) == 2 and chat.stop_reason == "max_rounds" and chat.rounds == 2
    assert chat.transcript[-1]["content"][0]["type"] == "tool_result"  # resumable
    with pytest.raises(ValueError, match="max_rounds"):
        run_messages(replay.anthropic(), model="m", messages=USER, max_rounds=0)


def test_tool_result_message_takes_plain_dict_blocks():
    content = [{"type": "text", "text": "Let me check."},
               {"type": "tool_use", "id": "t1", "name": "verify_solution",
                "input": {"kind": "sudoku", "puzzle": SUDOKU, "solution": SUDOKU}}]
    replies = tool_result_message(content)
    message, = replies.messages
    result, = message["content"]
    assert result["tool_use_id"] == "t1" and "is_error" not in result
    assert result["content"][0]["text"].startswith("Invalid sudoku solution")
    assert replies.results[0].output.valid is False
    assert tool_result_message([{"type": "text", "text": "no tools"}]).messages == []


def test_sdk_tool_runner_runs_our_tools():
    first = anthropic_reply(tool_uses=[SOLVE, ("solve_sudoku", {"puzzle": SUDOKU, "box": "nine"})])
    replay = Replay([first, lambda body: anthropic_reply("Runner done: " + last_tool_output(body))])
    tools = runnable_tools(pictures=False)
    runner = replay.anthropic().beta.messages.tool_runner(model="m", max_tokens=256, messages=USER, tools=tools,
                                                          max_iterations=4)
    final = runner.until_done()

    assert replay.requests[0]["tools"] == anthropic_tools()
    ok, error = replay.requests[1]["messages"][-1]["content"]  # (this SDK's runner continues a server thread)
    assert [ok["tool_use_id"], error["tool_use_id"]] == tool_use_ids(first)
    assert not ok.get("is_error") and "verified" in ok["content"][0]["text"]
    assert error["is_error"] is True and error["content"][0]["text"].startswith("Error: solve_sudoku: invalid box")
    assert final.content[0].text.startswith("Runner done: Error")
    solver_tool = next(t for t in tools if t.name == "solve_sudoku")
    assert solver_tool.last_result.is_error and solver_tool.to_dict() == anthropic_tools()[0]
