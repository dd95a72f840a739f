"""Feature networks shipped with ttur as package data."""
