"""Serving the sandbox with uvicorn: the ``gr4vy-nb sandbox`` command and the pieces
:func:`~gr4vy_nb.sandbox.start_sandbox` shares with it.

``main(argv)`` runs the sandbox in the foreground until Ctrl-C or SIGTERM and returns an
exit code: 0 after a clean stop, 2 for bad usage (a non-loopback ``--host`` without
``--allow-remote``, a bad flag value, a missing or invalid seed file), 3 when the key file
is unusable or the address cannot be bound.  It prints the base URL and the key file's
path, never the key.  ``python -m gr4vy_nb.sandbox`` runs the same function.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from ..errors import ConfigError
from .app import build_app
from .asgi import SandboxASGI, is_loopback_address
from .faults import BEHAVIOUR_KNOBS, FaultConfig
from .seeding import DEFAULT_SEED, resolve_seed

__all__ = ["DEFAULT_KEY_FILE", "DEFAULT_PORT", "bind_socket", "check_host", "main", "make_server"]

DEFAULT_PORT = 8787


def _default_key_file() -> Path:
    try:
        home = Path.home()
    except RuntimeError:  # no HOME and no passwd entry (some containers)
        home = Path(tempfile.gettempdir())
    return home / ".gr4vy-nb" / "sandbox-key.pem"


DEFAULT_KEY_FILE = _default_key_file()
"""Where the CLI keeps the sandbox key unless ``--private-key-file`` says otherwise
(``~/.gr4vy-nb/sandbox-key.pem``), so that restarts keep the same key and ``kid``."""


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback bind address unless ``allow_remote`` (raises ``ConfigError``)."""
    if not allow_remote and not is_loopback_address(host):
        raise ConfigError(
            f"refusing to listen on {host!r}: the sandbox accepts any token signed by its own key and is meant "
            "for this machine only; use a loopback address such as 127.0.0.1, or pass --allow-remote "
            "(allow_remote=True) if you really want other machines to reach it"
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one); raises ``OSError``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def base_url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    return f"http://{shown}:{port}"


def make_server(app: SandboxASGI, *, log_level: str = "warning", access_log: bool = False,
                configure_logging: bool = True) -> uvicorn.Server:
    """A uvicorn server for the app: no lifespan, bounded graceful shutdown, an access log only if asked.

    ``access_log=True`` logs one line per request, whatever ``log_level`` (the access lines are at INFO, below the
    default ``warning``). ``configure_logging=False`` leaves the process's logging configuration alone (thread mode).
    """
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        lifespan="off",
        proxy_headers=False,  # the admin guard must see the real peer address
        server_header=False,
        timeout_graceful_shutdown=3,
        timeout_keep_alive=30,
        backlog=1024,
        log_config=uvicorn.config.LOGGING_CONFIG if configure_logging else None,
    )
    if access_log:
        access = logging.getLogger("uvicorn.access")  # uvicorn gives it log_level, which would drop every line
        access.setLevel(min(access.getEffectiveLevel(), logging.INFO))
    return uvicorn.Server(config)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gr4vy-nb sandbox",
        description="Run the local Gr4vy checkout-sessions emulator in the foreground (Ctrl-C stops it).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; loopback only "
                   "unless --allow-remote)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--db", type=Path, help="SQLite file of the sessions (default: a temporary file, removed on exit)")
    p.add_argument("--private-key-file", type=Path, default=DEFAULT_KEY_FILE,
                   help=f"the sandbox's EC P-521 key, created (mode 0600) if missing (default {DEFAULT_KEY_FILE})")
    seeding = p.add_mutually_exclusive_group()
    seeding.add_argument("--seed", type=Path, metavar="FILE.jsonl",
                         help="sessions to load at start, expires_at kept as given (default: the package's sample "
                         "sessions, which get real lifetimes)")
    seeding.add_argument("--no-seed", action="store_true", help="start with an empty store")
    p.add_argument("--real-lifetimes", action=argparse.BooleanOptionalAction, default=None,
                   help="re-base the seed's expires_at on the start (and on each reseed): each session expires "
                   "15 min to 24 h later, one holding a payment_method within the hour, fixed by its id "
                   "(default: on for the sample sessions, off for --seed FILE)")
    p.add_argument("--newer-api", action="store_true",
                   help="behave as a newer API version: accept, store and return fields the OpenAPI document does "
                   "not know, at any depth (the known ones are still validated); without it they are refused (400)")
    p.add_argument("--put-semantics", choices=["merge", "replace"], default="merge",
                   help="what a PUT does with the fields its body leaves out: merge keeps them (default), replace "
                   "clears them (the body is the session's whole writable state)")
    p.add_argument("--expiry-reset", choices=["on", "off"], default="on",
                   help="on (default): an update resets expires_at to expires_in (default 3600 s) after it; off: an "
                   "update leaves expires_at alone")
    p.add_argument("--rate-limit", type=float, metavar="RPS", help="answer 429 past this many requests per second")
    p.add_argument("--fail-rate", type=float, default=0.0, metavar="P",
                   help="share (0..1) of requests answered 500/502/504 without applying them")
    p.add_argument("--latency-ms", type=float, default=0.0, metavar="MS", help="latency added to every API request")
    p.add_argument("--unknown-fields", action="store_true",
                   help="add a field this client does not know to every response (top level and nested)")
    p.add_argument("--random-seed", type=int, metavar="N", help="seed of the random faults (deterministic runs)")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--access-log", action="store_true", help="log one line per request")
    # Used by start_sandbox(mode="process"): where to announce the URL, and whose death stops us.
    p.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``gr4vy-nb sandbox`` with ``argv``; return the exit code (see the module docstring)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        check_host(args.host, args.allow_remote)
        config = FaultConfig(rate_limit=args.rate_limit, fail_rate=args.fail_rate, latency_ms=args.latency_ms,
                             unknown_fields=args.unknown_fields, random_seed=args.random_seed,
                             newer_api=args.newer_api, put_semantics=args.put_semantics,
                             expiry_reset=args.expiry_reset == "on")
        seed = None if args.no_seed else (args.seed or DEFAULT_SEED)
        seed_records, seed_info = resolve_seed(seed, newer_api=args.newer_api)
        real_lifetimes = (seed is DEFAULT_SEED) if args.real_lifetimes is None else args.real_lifetimes
    except (ConfigError, ValueError) as exc:
        print(f"gr4vy-nb sandbox: {exc}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        if args.db is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="gr4vy-nb-sandbox-"))
            db = Path(tmp) / "sandbox.db"
        else:
            db = args.db
        try:
            sock = bind_socket(args.host, args.port)
        except OSError as exc:
            print(f"gr4vy-nb sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
            return 3
        stack.callback(sock.close)
        try:
            app, state = build_app(db=db, private_key_file=args.private_key_file, config=config,
                                   seed_records=seed_records, seed_info=seed_info, real_lifetimes=real_lifetimes)
        except (ConfigError, OSError, sqlite3.Error) as exc:
            print(f"gr4vy-nb sandbox: cannot start: {exc}", file=sys.stderr)
            return 3
        stack.callback(state.store.close)
        server = make_server(app, log_level=args.log_level, access_log=args.access_log)
        url = base_url_of(sock)
        _announce(url, args, state.verifier.kid, db, seed_info, config, real_lifetimes)
        if args.ready_file is not None:
            _write_atomically(args.ready_file, json.dumps({"base_url": url, "pid": os.getpid()}))
        if args.parent_pid:
            _watch_parent(args.parent_pid, server)
        with _quiet_signals():
            server.run(sockets=[sock])
    return 0


def _announce(url: str, args: argparse.Namespace, kid: str, db: Path, seed_info: dict[str, Any],
              config: FaultConfig, real_lifetimes: bool) -> None:
    lines = [
        f"gr4vy-nb sandbox listening on {url}",
        f"  private key file: {args.private_key_file}  (kid {kid})",
        f"  database:         {db}",
        f"  seed:             {seed_info['loaded']} session(s) from {seed_info['source']} ({seed_info['note']}"
        + ("; real lifetimes: expiring 15 min to 24 h from now)" if real_lifetimes else ")"),
    ]
    if config.newer_api:
        lines.append("  API version:      newer (fields the document does not know are accepted and returned)")
    if config.put_semantics != "merge" or not config.expiry_reset:
        lines.append(f"  PUT semantics:    {config.put_semantics} (fields a PUT leaves out are "
                     f"{'cleared' if config.put_semantics == 'replace' else 'kept'}); expiry reset "
                     f"{'on' if config.expiry_reset else 'off'}")
    knobs = [f"{k}={v}" for k, v in config.as_dict().items()
             if v not in (None, 0, 0.0, False) and k not in BEHAVIOUR_KNOBS]
    if knobs:
        lines.append(f"  faults:           {', '.join(knobs)}")
    lines.append(f"Use it with GR4VY_BASE_URL={url} GR4VY_PRIVATE_KEY_FILE={args.private_key_file}")
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _watch_parent(parent_pid: int, server: uvicorn.Server) -> None:
    """Stop the server once the process that started it is gone (so no orphan keeps the port)."""

    def watch() -> None:
        while not server.should_exit:
            if os.getppid() != parent_pid:
                server.should_exit = True
                return
            time.sleep(0.5)

    threading.Thread(target=watch, name="gr4vy-sandbox-parent-watch", daemon=True).start()


@contextlib.contextmanager
def _quiet_signals() -> Iterator[None]:
    # uvicorn stops gracefully on SIGINT/SIGTERM, then re-raises the signal with the handler
    # found before it started; a no-op handler here turns that into a normal return (exit 0,
    # temporary files removed) instead of a KeyboardInterrupt traceback or a kill.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
