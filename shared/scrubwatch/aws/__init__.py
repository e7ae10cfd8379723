"""The Lambda side: scheduling checks, running them, and posting alerts to Slack. The
handlers themselves stay thin, in functions/<name>/handler.py."""
