"""The embedded default and its demo: `denialflow run` (bundled broker, SQLite, worker, relay,
timers and web app in one process: `embedded`), the demo feed and remittance, and
`simulate`. May import every package but `engine.cli`."""
