"""Releases: content source → signed, spoken release folder → verified install on a device."""
