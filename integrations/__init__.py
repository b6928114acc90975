"""Adapters to the outside: Slack Web API sender, Jira and the local tracker, Microsoft Graph."""
