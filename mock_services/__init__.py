"""The portal and its upstream services as real FastAPI apps, and the clients around them."""
