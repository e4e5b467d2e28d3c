"""The lifecycle diagram for the README, generated from the machine definition so it
cannot drift from the code (`denialflow diagram`; a test compares it to the README)."""

from transitions.extensions import GraphMachine

from workflows.denial import machine_definition


def mermaid() -> str:
    """A Mermaid state diagram of every state and transition."""
    holder = type("Diagram", (), {})()
    GraphMachine(model=holder, graph_engine="mermaid", title="Denial lifecycle", **machine_definition())
    lines = holder.get_graph().draw(None).splitlines()  # type: ignore[attr-defined]
    # keep the structure, drop the styling of the "current state"
    kept = (line.rstrip() for line in lines if not line.strip().startswith(("classDef", "Class ")))
    return "\n".join(kept).strip() + "\n"
