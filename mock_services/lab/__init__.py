"""The live lab: the supervisor that runs the services behind Toxiproxy, and the real clients."""
