"""Repository wiring: CI runs exactly the README's test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text().splitlines()
    assert readme[0] == "```bash"
    commands = [line for line in readme[1:5] if line and not line.startswith(("#", "```"))]
    assert len(commands) == 2 and "quickstart" in commands[0] and "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()
