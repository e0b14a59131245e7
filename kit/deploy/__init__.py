"""Deployment: render a kit's system files and radio settings from its profile (kit.toml)."""
