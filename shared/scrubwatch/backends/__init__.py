"""Where state and evidence are kept: SQLite + a folder (local), DynamoDB + S3 (aws)."""
