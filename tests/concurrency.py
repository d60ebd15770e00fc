"""Helpers for the threaded concurrency tests (PostgreSQL, transaction=True)."""

import threading

from django.db import connection


def race(*calls):
    """Run the calls at the same moment in threads; return their results or exceptions.

    Each thread closes its own database connection, as DESIGN.md's test notes ask.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results
