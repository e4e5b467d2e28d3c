"""denialflow's engine, by responsibility; imports go one way, down this list:

- foundation (`config`, `clock`, `errors`, `logs`): imported by all, imports none of the rest;
- `storage`: the tables, migrations and batch writes;
- `intake`: the event schema, record decoding, X12 835 ingest;
- `audit`: hash chains, signed checkpoints, replay;
- `runtime`: the worker, relay, timer service and the Kafka plumbing;
- `read`: supervisor queries, KPIs, the weekly report;
- `web`, `demo`, `cli`: the faces, at the top.
"""
