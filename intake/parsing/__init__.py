"""Statement parsers: bytes of a bank file in, plain entries and errors out (no Django, no database)."""
