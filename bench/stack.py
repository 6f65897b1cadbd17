"""The scaled stack on loopback for benchmarks: a fresh PostgreSQL database, Redis, gunicorn with
several workers and a Celery worker, all started from this checkout's environment."""

from __future__ import annotations

import os
import secrets
import shutil
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    def __init__(self, *, db_name: str = "tuangou_bench", web_workers: int = 4, web_threads: int = 1) -> None:
        self.db_name = db_name
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logdir = ROOT / "var" / "bench"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tuangou.config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": f"{PG}/{db_name}",
            "REDIS_URL": REDIS,
            "JOBS_MODE": "celery",
            "LOG_LEVEL": "WARNING",
            "TUANGOU_VAR_DIR": str(ROOT / "var" / "bench"),
        }

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        self.logdir.mkdir(parents=True, exist_ok=True)
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
                proc.kill()

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

    def start_web(self) -> None:
        gunicorn = shutil.which("gunicorn", path=str(BIN)) or "gunicorn"
        args = [
            gunicorn, "tuangou.config.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.web_workers), "--backlog", "2048", "--keep-alive", "30",
        ]
        if self.web_threads > 1:
            args += ["--threads", str(self.web_threads)]
        else:
            args += ["--worker-class", "sync"]
        self._spawn("web", args)
        self.wait_healthy()

    def start_worker(self) -> None:
        self._spawn("worker", [str(BIN / "tuangou"), "worker", "--concurrency", "2", "--loglevel", "WARNING"])

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs.append(subprocess.Popen(args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))

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
