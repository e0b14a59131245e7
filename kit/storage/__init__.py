"""Storage of mesh records in the kit's SQLite database."""
