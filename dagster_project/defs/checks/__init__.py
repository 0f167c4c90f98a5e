"""Asset checks: raw ids unique, quarantine, source freshness, identities, audience swings, sync errors, tracking plans kept."""
