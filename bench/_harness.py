"""Shared pieces of the benchmarks: a database, a gunicorn on loopback, a load generator,
and the output convention (a table, then one line of JSON)."""

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/leadshare_bench"


def bench_env(database_url: str, redis_url: str, var_dir: str = "") -> dict:
    """The server's (and the in-process Django's) environment. Without a Redis URL the app runs
    its embedded default (per-process cache, filesystem broker under `var_dir`)."""
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    if var_dir:
        env["LEADSHARE_VAR_DIR"] = var_dir
    env.update({
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "LEADSHARE_INSECURE_HTTP": "1",
        # The benchmark measures the server, not the rate limiter's refusals.
        "API_RATE_LIMIT": "100000000/min",
        "LOG_LEVEL": "WARNING",
    })
    return env


def django_setup(env: dict) -> None:
    """Set up Django in this process with the server's environment (`bench_env`): the
    in-process parts of a benchmark see the same database, cache and settings."""
    for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "LEADSHARE_VAR_DIR",
                "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "LEADSHARE_INSECURE_HTTP",
                "API_RATE_LIMIT", "LOG_LEVEL"):
        if key in env:
            os.environ[key] = env[key]
        else:
            os.environ.pop(key, None)
    import django

    django.setup()


def database_ensure(database_url: str) -> None:
    import psycopg2

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    conn = psycopg2.connect(host=parts.hostname, port=parts.port or 5432,
                            user=parts.username or "postgres", password=parts.password,
                            dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def exit_on_sigterm() -> None:
    """SIGTERM ends the benchmark like Ctrl-C does: through the `with` blocks that stop the
    server (it runs in its own session, so signals to this process do not reach it)."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))


def redis_reachable(redis_url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
        return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def redis_queue_clear(redis_url: str, queue: str = "celery") -> None:
    """Drop the drain requests the server published into the benchmark's own Redis database
    (no worker runs during a benchmark, so they would pile up run after run)."""
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1).delete(queue)
    except (redis.RedisError, OSError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn on 127.0.0.1, stopped however the benchmark ends."""

    def __init__(self, env: dict, workers: int = 2):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{self.port}",
             "-w", str(workers), "--threads", "1", "--log-level", "warning"],
            cwd=ROOT, env=env, start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited during start-up")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self):
        try:
            self.wait_ready()
        except BaseException:  # a failed or interrupted start-up must not leave it running
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()


def post_load(port: int, path: str, bodies: list[bytes], headers: dict, clients: int,
              expect: int) -> dict:
    """POST every body once, `clients` at a time; returns throughput and latencies."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    index = iter(range(len(bodies)))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(index, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=bodies[i], headers=headers)
                response = conn.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    errors.append(repr(error))
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != expect:
                    errors.append(f"{response.status}")
        conn.close()

    # Daemon threads: after Ctrl-C the server is stopped and nothing waits for the clients.
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[:3]}")
    latencies.sort()
    return {
        "per_s": len(bodies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def report(name: str, rows: list[tuple[str, str, str]], figures: dict) -> None:
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'figure':<{width}}  {'value':>12}  note")
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>12}  {note}")
    print()
    print(json.dumps({"bench": name, "figures": figures}))
