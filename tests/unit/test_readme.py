"""The README documents what the code does: the generated diagram, every event type,
every setting and every CLI command."""

from pathlib import Path

from engine.cli.app import app
from engine.config import Settings
from engine.intake.events import EVENT_TYPES
from workflows.diagram import mermaid

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_readme_diagram_is_the_generated_one() -> None:
    assert mermaid() in README, "regenerate with `denialflow diagram` and paste it into README.md"


def test_readme_documents_every_event_type_and_setting() -> None:
    missing = [t for t in EVENT_TYPES if f"`{t}`" not in README]
    missing += [f"DENIALFLOW_{n.upper()}" for n in Settings.model_fields if f"`DENIALFLOW_{n.upper()}`" not in README]
    assert not missing


def test_readme_documents_every_command() -> None:
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]
    commands += [g.name for g in app.registered_groups]
    assert all(f"denialflow {name}" in README for name in commands), commands


def test_quick_start_has_exactly_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split()[0] for line in quick.strip().splitlines()] == ["scripts/run", "scripts/test"]
