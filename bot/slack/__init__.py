"""Slack: Bolt listeners, Block Kit rendering of the chat-neutral UI, and the HTTP/socket runners."""
