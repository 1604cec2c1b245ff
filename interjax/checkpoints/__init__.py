"""Read-only Orbax checkpoint sources; the only module that imports orbax (issue 4)."""
