"""The portal's upstreams, each its own service: shahkar, registry, payment, sms."""
