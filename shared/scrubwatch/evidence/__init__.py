"""Evidence: a capture as WARC + text + reading + manifest (build), and checking it (verify)."""
