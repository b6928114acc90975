"""Reaching people outside chat: mail (for people without Slack: suppliers, external auditors) and
calendar events (audits, management reviews). Plain functions other processes call inside their own
unit of work; each queues an outbox effect (``mail.send``, ``calendar.event``) that the Microsoft
Graph senders in ``integrations/graph`` deliver once; files shared in chat (``slack.upload``, files.py).
No process of its own."""
