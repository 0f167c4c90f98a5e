"""Headwater's small shared kernel: configuration, the warehouse handle, the CLI, and the few
helpers every layer shares (`loopback` servers, `durability`, `import_target`, `unique_names`).

Everything else imports from here; this package imports from no other Headwater package,
with two deliberate exceptions:
- `cli` sits on top of everything and imports each command's module when it runs;
- `config` imports each feature's section schema (`models/config.py`,
  `models/profiles/config.py`, `models/audiences/config.py`, `models/conversions/config.py`,
  `destinations/config.py`, `sources/tracking_plan/config.py`): the file is validated as a whole when it is loaded, so a bad key
  anywhere is reported at once, naming the key. Those modules hold pydantic schemas only
  and must not import the kernel's other modules back (destinations' schema looks up its
  registry lazily, inside a validator), except `unique_names`, which imports nothing.
"""

__version__ = "0.1.0"
