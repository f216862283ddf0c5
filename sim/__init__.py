"""A SimPy model of the portal's topology, running the same policies as the services."""
