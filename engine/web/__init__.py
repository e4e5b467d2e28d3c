"""The web app (`denialflow serve`): dashboard, denial and audit pages, the JSON API, metrics and
health, with its defences (sessions, Origin check, headers, bounds). Imports `engine.read`,
`engine.audit`, `engine.storage`, `engine.intake` and, for health and metrics, `engine.runtime`;
nothing but the CLI and the demo imports it."""
