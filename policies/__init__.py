"""Fallback policies, sans-IO: handed `now` and an `rng`, they return decisions.

One policy axis per module — timeout (deadlines), retry + backoff + budget, breaker, throttle,
bulkhead, hedge on the client side (composed by `pipeline`); shedding, ratelimit, cache,
idempotency, quota on the server side — run by two thin drivers, `aio` and `simpy_driver`.
`presets` names the two policy sets; `resolve` turns a name or file plus overrides into the
resolved set and its canonical file. CONTRACT.md is the API other packages code against.
"""
