"""Codex CLI and Claude Code complete a small file-editing task headless through the gateway
(issue 11 §4), against gunicorn and the simulator's model: Codex over the Responses API
(`codex exec`, a custom model provider with wire_api "responses"), Claude Code over Anthropic's
Messages API (`claude -p`, ANTHROPIC_BASE_URL). Both are the pinned npm packages of
tests/clients/package.json (scripts/npm-clients.sh); a missing one fails, it never skips.

Each run is offline but for the gateway: the settings that keep each CLI from reaching its
vendor's servers (updates, telemetry, plugins) are the ones ../shared/agent-clients.md found.
Each test checks the file the task asked for and, from the simulator's request log, that the
tool's result went upstream in the tool protocol's `<tool_result>` block answering the call the
CLI made; the CLI's final answer is the model's text quoting that result.
"""
import json
import os
import subprocess

import pytest

from tests.integration.conftest import API_KEY
from tests.integration.helpers import results_upstream, stream_assist_queries
from tests.servers import ROOT

MODEL = "gemini-2.5-flash"
PINNED = json.loads((ROOT / "tests" / "clients" / "package.json").read_text())["dependencies"]


def folders(tmp_path_factory):
    """A project folder and a home for one run, under a path that names no tool (the model reads
    the path in the task: a `work` folder would read as Claude Code's Workflow tool)."""
    base = tmp_path_factory.mktemp("cli")
    project, home = base / "proj", base / "home"
    project.mkdir()
    home.mkdir()
    return project, home


def run(command, project, env) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def codex_config(proxy) -> str:
    """$CODEX_HOME/config.toml: the gateway as a model provider on the Responses wire (the only
    one Codex 0.171.0 takes), commands run without asking, and no update checks, plugins
    (github.com, chatgpt.com), analytics or telemetry. Codex's own sandbox is off: it is
    bubblewrap, which needs user namespaces a CI container may not give, and it is Codex's
    business, not the gateway's (workspace-write also ran here)."""
    return f"""\
model = "{MODEL}"
model_provider = "gateway"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[features]
plugins = false

[analytics]
enabled = false

[otel]
exporter = "none"
trace_exporter = "none"
metrics_exporter = "none"

[model_providers.gateway]
name = "gateway"
base_url = "{proxy.url}/v1"
env_key = "GATEWAY_API_KEY"
wire_api = "responses"
"""


def test_codex_exec_runs_a_command_that_writes_a_file(proxy, simulator, npm_clients, tmp_path_factory):
    """Codex's exec_command tool (its shell) writes the file; Codex sends the whole history back
    each turn (store false): its developer messages, the call item and its output."""
    binary = npm_clients / "node_modules" / ".bin" / "codex"
    assert binary.exists(), f"Codex CLI is not installed at {binary}"
    project, home = folders(tmp_path_factory)
    (home / "config.toml").write_text(codex_config(proxy))
    env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home), "GATEWAY_API_KEY": API_KEY}
    version = run([str(binary), "--version"], project, env).stdout
    assert version.split()[-1] == PINNED["@openai/codex"], version

    done = run([str(binary), "exec", "--skip-git-repo-check", 'run the command "printf hi > hello.txt"'],
               project, env)
    assert (project / "hello.txt").read_text() == "hi", done.stdout + done.stderr
    results = results_upstream(simulator)
    assert [name for _, name, _ in results] == ["exec_command"] and results[0][0], results
    assert "exited with code 0" in results[0][2]  # Codex's report of the command's run
    assert "The tool exec_command returned:" in done.stdout  # the model's answer, quoting it


# Claude Code's tasks: the tool the model must choose, the task ({target}: the file's absolute
# path) and what the file then holds.
CLAUDE_TASKS = {
    "Write": ('Use the write tool to create the file {target} with content "hi"', "hi"),
    "Bash": ('Run the command "echo hi 4TQ > {target}"', "hi 4TQ\n"),
}


@pytest.mark.parametrize("tool", CLAUDE_TASKS)
def test_claude_code_writes_a_file(proxy, simulator, npm_clients, tmp_path_factory, tool):
    """Claude Code's Write tool, or its Bash tool, writes the file. It asks for its own model
    name (claude-…, mapped to a Gemini model), streams every turn, and sends a system message
    inside `messages`, thinking, context_management and a dozen tools."""
    binary = npm_clients / "node_modules" / ".bin" / "claude"
    assert binary.exists(), f"Claude Code is not installed at {binary}"
    project, home = folders(tmp_path_factory)
    env = {
        **os.environ, "HOME": str(home), "ANTHROPIC_BASE_URL": proxy.url, "ANTHROPIC_API_KEY": API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # no update checks, telemetry, error reports
        "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
    }
    version = run([str(binary), "--version"], project, env).stdout
    assert version.split()[0] == PINNED["@anthropic-ai/claude-code"], version

    task, content = CLAUDE_TASKS[tool]
    target = project / "hello.txt"
    # acceptEdits: the default mode refuses a write nobody approves (headless: no one can)
    done = run([str(binary), "-p", task.format(target=target), "--permission-mode", "acceptEdits"], project, env)
    assert target.exists() and target.read_text() == content, done.stdout + done.stderr
    results = results_upstream(simulator)
    assert [name for _, name, _ in results] == [tool] and results[0][0], results
    assert f"The tool {tool} returned:" in done.stdout  # the model's answer, quoting the result
    assert len(stream_assist_queries(simulator)) == 2  # the call, then the answer: no retry
