"""The web API (`denialflow serve`): the supervisor and auditor questions over HTTP."""
