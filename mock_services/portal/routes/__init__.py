"""The portal's routes, one module per resource."""
