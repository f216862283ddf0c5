"""Faults as data, applied through Toxiproxy and a process supervisor."""
