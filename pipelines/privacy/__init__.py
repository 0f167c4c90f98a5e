"""Privacy: regulations (suppress, unsuppress, delete), access exports and their audit.

Owns `cdp.privacy_requests`, `cdp.privacy_request_steps`, `cdp.privacy_suppressions`, the
suppression file the collect endpoint reads, the spool's tombstone list, and the
`headwater privacy` commands. May import the `headwater` kernel, `sources` (the spool) and,
for propagating deletions, `destinations` (see README.md for why that one edge exists).
"""
