"""Every example script runs, as a user would start it, offline: --replay serves scripted model replies to the real
SDK clients; the MCP examples launch the real `recursive-tools serve` over stdio."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
REPLAYED = ["openai_chat.py", "openai_responses.py", "anthropic_messages.py", "openai_agents_mcp.py"]
SOLVED = re.compile(r"sudoku solved by [\w-]+ \((exact|trm)\)[^;]*; verified: all 6 checks passed")


def run_example(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_examples_are_all_covered():
    assert set(SCRIPTS) == {*REPLAYED, "mcp_client.py"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script):
    done = run_example(f"examples/{script}", "--help")
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout and (script == "mcp_client.py" or "--replay" in done.stdout)


@pytest.mark.parametrize("options", [[script, "--replay"] for script in REPLAYED] + [
    ["anthropic_messages.py", "--replay", "--runner"]], ids=lambda options: " ".join(options))
def test_replay(options):
    done = run_example(f"examples/{options[0]}", *options[1:])
    assert done.returncode == 0, done.stderr
    assert "Here is the solution from the local solver:" in done.stdout
    assert SOLVED.search(done.stdout)  # the agents example asks for solver 'auto': the shipped TRM may answer
    assert "4 8 3 | 9 2 1 | 6 5 7" in done.stdout  # the first solved row went to the model and came back


def test_mcp_client_launches_the_server_and_solves():
    done = run_example("examples/mcp_client.py")
    assert done.returncode == 0, done.stderr
    assert "tools: solve_sudoku, solve_maze, verify_solution, describe_solvers" in done.stdout
    assert "structured: status=solved verified=True" in done.stdout
    assert "[image block: image/png]" in done.stdout


def test_a_missing_key_is_explained():
    done = run_example("examples/openai_chat.py")
    assert done.returncode != 0
    assert "set OPENAI_API_KEY, or pass --base-url for a local server, or --replay to run offline" in done.stderr


def test_claude_desktop_config_starts_our_console_script():
    config = json.loads((EXAMPLES / "claude_desktop_config.json").read_text())
    server = config["mcpServers"]["recursive-tools"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert server == {"command": "recursive-tools", "args": ["serve"]} and "recursive-tools" in scripts
