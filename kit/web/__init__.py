"""Web layer: one blueprint per audience or feature."""
