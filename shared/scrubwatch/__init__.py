"""scrubwatch: a tripwire for quietly edited or deleted web pages."""

__version__ = "0.1.0"
