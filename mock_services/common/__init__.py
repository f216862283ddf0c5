"""What every service shares: settings, clock, SQLite, errors, health and metrics routes."""
