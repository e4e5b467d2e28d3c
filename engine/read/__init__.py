"""The read side: supervisor queries and KPIs over the store, the weekly report, and the
plain-text rendering the CLI and pages share. Reads only: imports the foundation,
`engine.storage`, `engine.intake` (vocabularies) and `workflows`."""
