"""The collect step: loading the spool into each source's raw tables, the privacy inbox, the backlog sensor."""
