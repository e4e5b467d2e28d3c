"""denialflow runtime: events, store, audit log, worker loop, configuration, logging."""
