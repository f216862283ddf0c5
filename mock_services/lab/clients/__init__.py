"""Real client programs driving the lab: load driver, pharmacy agent, draft autosave."""
