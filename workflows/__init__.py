"""The ISMS processes as plain Python: no Slack, Jira or Graph imports here, only ports."""
