"""Fallback policies, sans-IO: handed `now` and an `rng`, they return decisions."""
