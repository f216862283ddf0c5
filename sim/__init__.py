"""A SimPy model of the portal's topology, running the same policies as the services.

Modules, in the order a request meets them: `workload` (arrivals, from `scenario.arrivals`),
`client` (one process per user operation, through the user pipeline), `portal` (admission,
worker threads, service, commit), `upstream` (the portal's upstream calls through its client
pipelines), `policystate` (the policy objects of one replication), `world` (the shared state:
replicas, links, switches, racks, the policies' and the pharmacies' state), `nemesis` (the
catalog's faults as nemesis processes), `ports` (the injector's ports, played by SimPy),
`pharmacy` (a dispense's paper fallback and reconciliation), `engine` (the event loop),
`model` (one replication), `runner` (replications on local cores or Dask, each summarised
where it ran), `interpreter` and `worker` (replications in PyPy's processes: the same
histories, about 2.5x as fast). Imports point one way, from the worker down to the state
(ARCHITECTURE.md, tests/test_layers.py `SIM_LAYERS`). The `chaoslab sim` handler
(chaoslab/simulate.py) pools the summaries into the report: sim/ imports nothing of
chaoslab/ (ARCHITECTURE.md).

Scale: the model is the portal, not its 43 M users. Each scenario says how many real
requests one simulated request stands for: 1:1 for `year_end_peak` (the portal's 16 worker
threads a replica, ~5 million requests a day), 1:8 with the worker threads divided by 8
for the day scenarios the live lab also plays, 1:2400 for `year` (scenarios/README.md,
"Scale", says why and what the 1:8 scale changes).
"""
