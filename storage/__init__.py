"""Persistence: engine and sessions, typed models, migrations, the records log and the outbox."""
