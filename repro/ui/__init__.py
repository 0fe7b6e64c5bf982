"""``repro ui``: a local, read-only run browser (the optional ``repro[ui]`` extra)."""
