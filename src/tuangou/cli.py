"""The `tuangou` command: demo, serve, worker, beat, manage …, version, and the project's own
management commands (audit, diagram, …) by name."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tuangou import __version__

DEFAULT_SETTINGS = "tuangou.config.settings.local"


def _setup(settings: str | None = None) -> None:
    """Compile the translation catalogues that are out of date, then set Django up. In this
    order: setting Django up may load a language's catalogue, and one loaded before its .mo
    existed stays untranslated for the life of the process (a fresh clone's demo sent its SMS
    in English)."""
    from tuangou.core.i18n import compile_catalogues

    compile_catalogues()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings or DEFAULT_SETTINGS)
    import django

    django.setup()


def _manage(argv: Sequence[str]) -> None:
    from django.core.management import execute_from_command_line

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    execute_from_command_line(["tuangou manage", *argv])


def _prepare() -> None:
    """Migrate: what every start needs (the catalogues are compiled by `_setup`)."""
    from django.conf import settings
    from django.core.management import call_command

    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)


def _serve_embedded(host: str, port: int, threads: int) -> None:
    """One process: the WSGI server, the job threads and the clock."""
    from waitress import serve

    from tuangou.config.wsgi import application
    from tuangou.core import jobs

    jobs.runner().start(clock=True)
    print(f"tuangou {__version__} on http://{host}:{port}/  (embedded mode: jobs and clock in this process)")
    serve(application, host=host, port=port, threads=threads, ident="tuangou")


def cmd_demo(args: argparse.Namespace) -> None:
    os.environ.setdefault("JOBS_MODE", "embedded")
    _setup()
    _prepare()
    from django.core.management import call_command

    call_command("demo_load")
    _serve_embedded(args.host, args.port, args.threads)


def cmd_serve(args: argparse.Namespace) -> None:
    _setup()
    from django.conf import settings

    if settings.JOBS_MODE == "celery":
        argv = [
            "gunicorn",
            "tuangou.config.wsgi:application",
            "--bind",
            f"{args.host}:{args.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--access-logfile",
            "-",
        ]
        os.execvp("gunicorn", argv)  # noqa: S606, S607 - gunicorn from the same environment
    _prepare()
    _serve_embedded(args.host, args.port, args.threads)


def cmd_worker(args: argparse.Namespace) -> None:
    _setup()
    from tuangou.config.celery import app

    app.worker_main(["worker", "--loglevel", args.loglevel, "--concurrency", str(args.concurrency)])


def cmd_beat(args: argparse.Namespace) -> None:
    _setup()
    from django.conf import settings

    from tuangou.config.celery import app

    os.makedirs(settings.VAR_DIR if hasattr(settings, "VAR_DIR") else "var", exist_ok=True)
    app.start(["beat", "--loglevel", args.loglevel])


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "manage":
        _manage(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="tuangou", description="團購 tuangou")
    sub = parser.add_subparsers(dest="command")
    port = int(os.environ.get("PORT", "8000"))

    demo = sub.add_parser("demo", help="SQLite + demo data, served with jobs and clock in-process")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=port)
    demo.add_argument("--threads", type=int, default=8)
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="serve the site (gunicorn when scaled, embedded otherwise)")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=port)
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "3")))
    serve.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "4")))
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="a Celery worker (scaled mode)")
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))
    worker.set_defaults(func=cmd_worker)

    beat = sub.add_parser("beat", help="the Celery beat scheduler (scaled mode)")
    beat.add_argument("--loglevel", default="INFO")
    beat.set_defaults(func=cmd_beat)

    sub.add_parser("manage", help="Django's manage.py: tuangou manage migrate, …")
    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=lambda _a: print(__version__))

    if argv and argv[0] not in sub.choices and not argv[0].startswith("-"):
        # The project's own management commands by name: tuangou audit, tuangou diagram …
        _manage(argv)
        return
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return
    args.func(args)


if __name__ == "__main__":
    main()
