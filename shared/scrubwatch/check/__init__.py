"""Running a check: the engine's pipeline, the fetcher and its address guard and proxies,
the Internet Archive witness, the reading worker pool, and the interfaces (ports) every
store and channel implements."""
