"""The `scrubwatch` command: check, validate, status, and the archive commands."""
