"""The crisis cell's data in and out: CAP, CSV/HXL, vCard, backup, bundles, timeline,
purge, and the confidential register of vulnerable people."""
