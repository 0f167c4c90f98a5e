"""Headwater's small shared kernel: configuration, the warehouse handle, the CLI.

Everything else imports from here; this package imports from no other Headwater package
except in `cli`, which sits on top of everything.
"""

__version__ = "0.1.0"
