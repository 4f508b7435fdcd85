"""The one test kit: builders, fixtures' helpers, workloads and real services shared by the tests and
the benchmarks. Product packages never import it; test modules import it, never each other.

- ``commands``: command dicts (``order``, ``command``) and ``run`` (parse + execute one command).
- ``helpers``: refusal checks, event look-ups and small set-up steps of the rule tests.
- ``app``: the secret key the fixtures configure.
- ``pg``: a fresh PostgreSQL schema per test.
- ``cli``: the installed ``ledger`` command as a subprocess.
- ``stream``: a workload in the ledger, raw reads of a topic, the relay as a process.
- ``memory``, ``scenario``: the handlers on in-memory aggregates, and random command sequences (hypothesis).
- ``contention``: many writer processes on the same customers (stress tests, the scaling benchmark).
- ``big_customer``: one customer with many events (snapshot tests, the as-of benchmark).
- ``idp``: the real OpenID Connect provider of the tests.
- ``ops``: poison events written straight into the event store (operations tests).
"""
