"""Test doubles that speak the real wire protocols of the services the bot talks to."""
