"""What comes in, and whether it may: the event schema and its strict field forms, decoding a
consumed record (safe JSON, reserved ids, dead letters), X12 835 reading and the claim-line
identity, ingest and quarantine of files, authorization records. Imports only the foundation
(`engine.config`, `clock`, `errors`, `logs`), `engine.storage` and `workflows`."""
