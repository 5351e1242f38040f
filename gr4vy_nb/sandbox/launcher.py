"""Starting the sandbox and talking to its admin endpoints: :func:`start_sandbox` and :class:`Sandbox`."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import orjson
import requests

from ..errors import ConfigError
from .faults import UNKNOWN_FIELD, FaultConfig
from .seeding import DEFAULT_SEED

__all__ = ["DEFAULT_SEED", "UNKNOWN_FIELD", "Sandbox", "start_sandbox"]

_START_TIMEOUT = 30.0
_ADMIN_TIMEOUT = 30.0


class Sandbox:
    """A running sandbox.  Use :func:`start_sandbox` to get one; stop it with :meth:`stop`
    or a ``with`` block.

    Attributes:
        base_url: ``http://127.0.0.1:PORT`` (no trailing slash).
        private_key_file: the EC P-521 key the sandbox verifies tokens with; sign tokens
            with it (``TokenSigner(load_private_key(path.read_bytes()))``).
        db: the SQLite file of the sessions.
        mode: ``"thread"`` or ``"process"``.
        log_file: the server's output in process mode (``None`` in thread mode).

    The helper methods talk to the admin endpoints over HTTP; they raise ``ValueError``
    when the sandbox refuses the input (with its message) and ``RuntimeError`` otherwise.
    """

    def __init__(self, *, base_url: str, private_key_file: Path, db: Path, mode: str,
                 stopper: contextlib.ExitStack, log_file: Path | None = None) -> None:
        self.base_url = base_url
        self.private_key_file = private_key_file
        self.db = db
        self.mode = mode
        self.log_file = log_file
        self._stopper = stopper
        self._stopped = False

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"Sandbox({self.base_url!r}, mode={self.mode!r}, {state})"

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ admin helpers

    def _admin(self, method: str, path: str, *, body: Any = None, data: bytes | None = None,
               params: dict[str, str] | None = None) -> Any:
        if self._stopped:
            raise RuntimeError("the sandbox is stopped")
        content = orjson.dumps(body) if body is not None else data
        with requests.Session() as http:
            http.trust_env = False  # never through a proxy: this is a loopback address
            response = http.request(method, f"{self.base_url}/_sandbox/{path}", data=content, params=params,
                                    headers={"content-type": "application/json"}, timeout=_ADMIN_TIMEOUT)
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = None
        if response.status_code >= 400:
            message = payload.get("message") if isinstance(payload, dict) else response.text[:200]
            if isinstance(payload, dict) and payload.get("details"):
                message += ": " + "; ".join(f"{d.get('pointer')}: {d.get('message')}" for d in payload["details"][:5])
            kind = ValueError if response.status_code in (400, 404) else RuntimeError
            raise kind(f"sandbox {method} /_sandbox/{path} answered {response.status_code}: {message}")
        return payload

    def health(self) -> dict[str, Any]:
        """``GET /_sandbox/health``: status, live sessions, seed, fault settings, key id."""
        return self._admin("GET", "health")  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        """Counters since start or the last reset.

        ``{"requests": {"PUT": {"200": 5, "429": 2}, ...}, "writes": {session_id: n},
        "total_requests": N, "faults": {"scripted": n, "rate_limited": n, "failed": n},
        "faults_pending": n}``.  A connection dropped by a ``reset`` rule counts under the
        status ``"reset"``.  Admin requests are not counted.
        """
        return self._admin("GET", "stats")  # type: ignore[no-any-return]

    def reset(self, reseed: bool = True) -> None:
        """Empty the store, zero the counters, drop scripted faults, restore the starting knobs;
        then reload the starting seed unless ``reseed`` is false."""
        self._admin("POST", "reset", params={"reseed": "true" if reseed else "false"})

    def seed(self, sessions: Iterable[Mapping[str, Any]] | str | os.PathLike[str],
             *, merchant_account_id: str = "default", real_lifetimes: bool = False) -> list[str]:
        """Insert (or replace) sessions, kept verbatim (ids and ``expires_at`` as given).

        ``sessions`` is an iterable of session dicts or the path of a JSONL file; they are
        validated against the document's ``CheckoutSession`` (relaxed in newer-API mode, see
        :meth:`configure`, so that unknown fields at any depth are kept).  With
        ``real_lifetimes`` their ``expires_at`` is re-based on now instead (15 min to 24 h,
        one holding a card within the hour; see :mod:`gr4vy_nb.sandbox.seeding`).
        Returns the ids seeded.
        """
        if isinstance(sessions, str | os.PathLike):
            payload = Path(sessions).read_bytes()
        else:
            payload = orjson.dumps(list(sessions))
        params = {"merchant_account_id": merchant_account_id, "real_lifetimes": "true" if real_lifetimes else "false"}
        result = self._admin("POST", "seed", data=payload, params=params)
        return list(result["ids"])

    def set_faults(self, rules: Iterable[Mapping[str, Any]], *, append: bool = False) -> list[dict[str, Any]]:
        """Replace (or with ``append``, extend) the scripted fault rules; returns those pending.

        Each rule: ``{"method": "GET"|"PUT"|"POST"|"DELETE"|"*", "session_id": ..., "times": N,
        "action": "status"|"reset"|"stall"|"apply_then_stall", "status": ..., "retry_after": ...,
        "body": "gr4vy"|"fastapi"|"html"|"empty"|"truncated", "message": ..., "seconds": ...}``
        (see :class:`~gr4vy_nb.sandbox.faults.FaultRule`).
        """
        result = self._admin("POST", "faults", body=list(rules), params={"append": "true" if append else "false"})
        return list(result["rules"])

    def faults(self) -> list[dict[str, Any]]:
        """The scripted fault rules not yet used up, each with its ``remaining`` count."""
        return list(self._admin("GET", "faults")["rules"])

    def clear_faults(self) -> None:
        """Drop every scripted fault rule."""
        self._admin("DELETE", "faults")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change fault knobs while running: ``rate_limit``, ``fail_rate``, ``latency_ms``,
        ``unknown_fields``, ``random_seed``, ``newer_api`` (behave as a newer API version:
        unknown fields accepted, stored and returned at any depth), ``put_semantics``
        (``"merge"`` or ``"replace"``) and ``expiry_reset`` (``True``/``False``).  :meth:`reset`
        restores the starting ones."""
        return self._admin("PUT", "config", body=settings)  # type: ignore[no-any-return]

    def expire(self, session_id: str, *, merchant_account_id: str | None = None) -> None:
        """Move the session's ``expires_at`` into the past: it then answers 404."""
        body: dict[str, Any] = {"session_id": session_id}
        if merchant_account_id is not None:
            body["merchant_account_id"] = merchant_account_id
        self._admin("POST", "expire", body=body)

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Stop the server and remove its temporary files (idempotent)."""
        if not self._stopped:
            self._stopped = True
            self._stopper.close()


def start_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    db: str | os.PathLike[str] | None = None,
    private_key_file: str | os.PathLike[str] | None = None,
    seed: Any = DEFAULT_SEED,
    rate_limit: float | None = None,
    fail_rate: float = 0.0,
    latency_ms: float = 0,
    unknown_fields: bool = False,
    random_seed: int | None = None,
    newer_api: bool = False,
    put_semantics: Literal["merge", "replace"] = "merge",
    expiry_reset: bool = True,
    real_lifetimes: bool | None = None,
    allow_remote: bool = False,
    mode: Literal["thread", "process"] = "thread",
) -> Sandbox:
    """Start the sandbox in the background and return once it answers.

    Args:
        host, port: where to listen; ``port=0`` picks a free port.  A non-loopback host is
            refused (``ConfigError``) unless ``allow_remote``.
        db: the SQLite file (default: a temporary directory, removed by :meth:`Sandbox.stop`).
        private_key_file: the EC P-521 key, created (mode 0600) if missing (default: in the
            temporary directory).
        seed: :data:`DEFAULT_SEED` (the package's sample sessions), the path of a JSONL file, or
            ``None`` for an empty store.
        rate_limit, fail_rate, latency_ms, unknown_fields, random_seed: the fault knobs
            (see :mod:`gr4vy_nb.sandbox.faults`).
        newer_api: behave as a newer API version: fields the OpenAPI document does not know
            are accepted, stored and returned at any depth (default: refused with 400).
        put_semantics: ``"merge"`` (default): a PUT keeps the fields its body leaves out;
            ``"replace"``: it clears them (the body is the session's whole writable state).
        expiry_reset: ``True`` (default): an update resets ``expires_at`` to ``expires_in`` after
            it; ``False``: an update leaves ``expires_at`` alone.
        real_lifetimes: re-base the seed's ``expires_at`` on the start (and each reseed) to
            15 min .. 24 h (a session holding a card: within the hour), fixed by each id;
            ``None`` (default): on for :data:`DEFAULT_SEED`, off for a seed file, whose
            ``expires_at`` are kept as given.
        mode: ``"thread"`` (a daemon thread of this process) or ``"process"`` (a separate
            ``python -m gr4vy_nb.sandbox`` process).

    Raises:
        ConfigError: bad host, missing or invalid seed file, unusable key file.
        ValueError: a knob out of range.
        RuntimeError: the server did not come up (its output is in the message).
    """
    from .server import check_host

    check_host(host, allow_remote)
    config = FaultConfig(rate_limit=rate_limit, fail_rate=fail_rate, latency_ms=latency_ms,
                         unknown_fields=unknown_fields, random_seed=random_seed, newer_api=newer_api,
                         put_semantics=put_semantics, expiry_reset=bool(expiry_reset))
    lifetimes = (seed is DEFAULT_SEED) if real_lifetimes is None else bool(real_lifetimes)
    if mode not in ("thread", "process"):
        raise ValueError("mode must be 'thread' or 'process'")
    stopper = contextlib.ExitStack()
    try:
        tmp: Path | None = None
        if db is None or private_key_file is None:
            tmp = Path(stopper.enter_context(tempfile.TemporaryDirectory(prefix="gr4vy-nb-sandbox-")))
        db_path = Path(db) if db is not None else tmp / "sandbox.db"  # type: ignore[operator]
        key_path = Path(private_key_file) if private_key_file is not None else tmp / "sandbox-key.pem"  # type: ignore[operator]
        if mode == "thread":
            base_url, log_file = _start_thread(stopper, host, port, db_path, key_path, seed, config, lifetimes), None
        else:
            base_url, log_file = _start_process(stopper, host, port, db_path, key_path, seed, config, allow_remote,
                                                lifetimes)
        sandbox = Sandbox(base_url=base_url, private_key_file=key_path, db=db_path, mode=mode, stopper=stopper,
                          log_file=log_file)
        _wait_healthy(sandbox, stopper)
        return sandbox
    except BaseException:
        stopper.close()
        raise


def _start_thread(stopper: contextlib.ExitStack, host: str, port: int, db: Path, key_file: Path, seed: Any,
                  config: FaultConfig, real_lifetimes: bool) -> str:
    from .app import build_app
    from .seeding import resolve_seed
    from .server import base_url_of, bind_socket, make_server

    seed_records, seed_info = resolve_seed(seed, newer_api=config.newer_api)
    app, state = build_app(db=db, private_key_file=key_file, config=config, seed_records=seed_records,
                           seed_info=seed_info, real_lifetimes=real_lifetimes)
    stopper.callback(state.store.close)
    sock = bind_socket(host, port)
    stopper.callback(sock.close)
    server = make_server(app, configure_logging=False)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported by start_sandbox instead of a thread traceback
            failure.append(exc)

    thread = threading.Thread(target=serve, name="gr4vy-sandbox", daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)

    stopper.callback(stop)
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"the sandbox thread failed to start: {failure[0] if failure else 'exited'}")
        if time.monotonic() > deadline:
            raise RuntimeError("the sandbox thread did not start in time")
        time.sleep(0.01)
    return base_url_of(sock)


def _start_process(stopper: contextlib.ExitStack, host: str, port: int, db: Path, key_file: Path, seed: Any,
                   config: FaultConfig, allow_remote: bool, real_lifetimes: bool) -> tuple[str, Path]:
    run_dir = Path(stopper.enter_context(tempfile.TemporaryDirectory(prefix="gr4vy-nb-sandbox-run-")))
    ready = run_dir / "ready.json"
    log_path = run_dir / "server.log"
    cmd = [sys.executable, "-m", "gr4vy_nb.sandbox", "--host", host, "--port", str(port), "--db", str(db),
           "--private-key-file", str(key_file), "--ready-file", str(ready), "--parent-pid", str(os.getpid())]
    if seed is None:
        cmd.append("--no-seed")
    elif seed is not DEFAULT_SEED:
        cmd += ["--seed", str(seed)]
    if config.rate_limit is not None:
        cmd += ["--rate-limit", repr(float(config.rate_limit))]
    if config.fail_rate:
        cmd += ["--fail-rate", repr(float(config.fail_rate))]
    if config.latency_ms:
        cmd += ["--latency-ms", repr(float(config.latency_ms))]
    if config.unknown_fields:
        cmd.append("--unknown-fields")
    if config.random_seed is not None:
        cmd += ["--random-seed", str(config.random_seed)]
    if config.newer_api:
        cmd.append("--newer-api")
    cmd += ["--put-semantics", config.put_semantics, "--expiry-reset", "on" if config.expiry_reset else "off"]
    cmd.append("--real-lifetimes" if real_lifetimes else "--no-real-lifetimes")
    if allow_remote:
        cmd.append("--allow-remote")
    env = dict(os.environ)
    # The child must import this very package, even one run from a source folder without installing.
    import_root = str(Path(sys.modules["gr4vy_nb"].__file__ or "").resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (import_root, env.get("PYTHONPATH")) if p)
    log = stopper.enter_context(open(log_path, "wb"))  # noqa: SIM115 - closed by the stopper
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)

    stopper.callback(stop)
    deadline = time.monotonic() + _START_TIMEOUT
    while not ready.exists():
        code = proc.poll()
        if code is not None:
            output = log_path.read_text(errors="replace")[-2000:]
            if code == 2:
                raise ConfigError(f"the sandbox refused to start: {output.strip()}")
            raise RuntimeError(f"the sandbox process exited with code {code}:\n{output}")
        if time.monotonic() > deadline:
            raise RuntimeError("the sandbox process did not start in time:\n"
                               + log_path.read_text(errors="replace")[-2000:])
        time.sleep(0.02)
    info = json.loads(ready.read_text(encoding="utf-8"))
    return str(info["base_url"]), log_path


def _wait_healthy(sandbox: Sandbox, stopper: contextlib.ExitStack) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        try:
            if sandbox.health().get("status") == "ok":
                return
        except (requests.RequestException, RuntimeError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox at {sandbox.base_url} did not answer its health check in time")
        time.sleep(0.02)
