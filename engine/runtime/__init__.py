"""The long-running processes and what they share: the worker and its batch processor, the
outbox relay and parked messages, the timer service, outage waits, heartbeats, health and the
supervisor, and the Kafka plumbing (clients, lag, the bundled broker, the runtime file).
Imports the foundation, `engine.storage`, `engine.intake`, `engine.audit` and `workflows`;
nothing here imports the read side, the web app or the CLI."""
