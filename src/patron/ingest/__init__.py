"""Event ingestion: one pipeline (claim, lock and load, apply, write) and the registry of the
handlers each domain contributes for the event types it reacts to."""
