"""Channels that deliver events: terminal, JSON lines, email, Slack (channels), and SNS."""
