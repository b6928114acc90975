"""Configuration: environment settings, the organisation file, the process catalogue and templates."""
