"""The scaled stack on loopback for benchmarks: a fresh PostgreSQL database, Redis, gunicorn with
several workers and a Celery worker, all started from this checkout's environment."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
# several people benchmarking on one machine: each names its own database (and Redis db, above)
DB_NAME = os.environ.get("BENCH_DB", "tuangou_bench")
QUEUE = "tuangou"  # CELERY_TASK_DEFAULT_QUEUE in tuangou.config.settings.base


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    def __init__(self, *, db_name: str = DB_NAME, web_workers: int = 4, web_threads: int = 4) -> None:
        self.db_name = db_name
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.worker: subprocess.Popen[bytes] | None = None
        self.logdir = ROOT / "var" / db_name
        self.env = {
            **os.environ,
            # production settings plus the few documented overrides a load test needs
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": f"{PG}/{db_name}",
            "REDIS_URL": REDIS,
            "JOBS_MODE": "celery",
            "LOG_LEVEL": "WARNING",
            "TUANGOU_VAR_DIR": str(self.logdir),
        }

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        self.logdir.mkdir(parents=True, exist_ok=True)
        for name in ("web", "worker"):
            (self.logdir / f"{name}.log").unlink(missing_ok=True)
        self.reset_database()
        self.manage("migrate", "--verbosity", "0")
        self.start_web()
        self.start_worker()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def reset_database(self) -> None:
        import psycopg
        import redis

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        redis.Redis.from_url(REDIS).flushdb()

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "tuangou"), "manage", *args], env=self.env, cwd=ROOT, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"tuangou manage {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def python(self, code: str) -> str:
        """Run Django code against the bench database (setup data, checks)."""
        return self.manage("shell", "-c", code)

    def call(self, func: str, kill_after: float | None = None, **kwargs: object) -> dict[str, object]:
        """Run `bench.fixtures.<func>(**kwargs)` in a Django process against the bench database
        and return what it returns (JSON). Arguments travel in the environment, not argv.
        Raises subprocess.TimeoutExpired (the process is killed) after `kill_after` seconds."""
        code = (
            "import json, os; from bench import fixtures; "
            f"r = fixtures.{func}(**json.loads(os.environ['BENCH_ARGS'])); "
            "print('BENCH-JSON ' + json.dumps(r, default=str))"
        )
        result = subprocess.run(
            [str(BIN / "tuangou"), "manage", "shell", "-c", code],
            env={**self.env, "BENCH_ARGS": json.dumps(kwargs)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=kill_after,
        )
        if result.returncode != 0:
            raise RuntimeError(f"fixtures.{func} failed:\n{result.stderr[-3000:]}")
        for line in reversed(result.stdout.splitlines()):
            if line.startswith("BENCH-JSON "):
                got: dict[str, object] = json.loads(line[len("BENCH-JSON ") :])
                return got
        raise RuntimeError(f"fixtures.{func} returned nothing:\n{result.stdout[-2000:]}")

    def purge_jobs(self) -> int:
        """Drop the jobs still queued for Celery (e.g. 100,000 SMS deliveries after a deal close),
        so that they do not eat the CPU of the next benchmark."""
        import redis

        client = redis.Redis.from_url(REDIS)
        # the project's queue (CELERY_TASK_DEFAULT_QUEUE) and its priority lists on Redis
        keys = [QUEUE, *client.scan_iter(match=QUEUE + "\x06\x16*")]
        queued = sum(int(client.llen(key)) for key in keys)
        client.delete(*keys)
        return queued

    def start_web(self) -> None:
        gunicorn = shutil.which("gunicorn", path=str(BIN)) or "gunicorn"
        args = [
            gunicorn,
            "tuangou.config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.web_workers),
            "--backlog",
            "2048",
            "--keep-alive",
            "30",
        ]
        if self.web_threads > 1:
            # gthread keeps connections alive (sync workers close every one, so each request
            # would pay a TCP handshake and a new accept); the threads overlap database waits.
            args += ["--worker-class", "gthread", "--threads", str(self.web_threads)]
        else:
            args += ["--worker-class", "sync"]
        self._spawn("web", args)
        self.wait_healthy()

    def restart_worker(self) -> None:
        """Stop the Celery worker (and what it is doing), drop the queued jobs, start a fresh one:
        a benchmark that gave up waiting must not leave work that eats the next one's CPU."""
        if self.worker is not None:
            os.killpg(self.worker.pid, signal.SIGKILL)  # the pool's children too
            self.worker.wait(timeout=20)
            self.procs.remove(self.worker)
        self.purge_jobs()
        self.start_worker()

    def start_worker(self) -> None:
        self.worker = self._spawn(
            "worker", [str(BIN / "tuangou"), "worker", "--concurrency", "2", "--loglevel", "WARNING"]
        )

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        # its own process group, so that stopping it stops its children (gunicorn and Celery pools)
        proc = subprocess.Popen(
            args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"web did not become healthy; see {self.logdir / 'web.log'}")
