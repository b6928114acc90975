"""Surfaces: the Slack app, the HTTP server, Socket Mode, the console chat and the CLI."""
