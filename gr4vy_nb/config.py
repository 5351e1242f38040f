"""Settings: which Gr4vy instance to talk to, as whom, and how patiently.

:class:`Settings` is a frozen, keyword-only value built in one place, usually
:meth:`Settings.from_env`, which reads the environment and a ``.env`` file::

    GR4VY_ID=acme                     # the instance id (api.sandbox.acme.gr4vy.app)
    GR4VY_ENVIRONMENT=sandbox         # sandbox | production
    GR4VY_PRIVATE_KEY_FILE=key.pem    # the EC P-521 key from the dashboard (or GR4VY_PRIVATE_KEY, the PEM text)
    GR4VY_MERCHANT_ACCOUNT_ID=default
    GR4VY_BASE_URL=http://127.0.0.1:8787   # optional: overrides the URL, e.g. the local sandbox

The key is read and checked when the settings are built, so a bad key fails early with a
:class:`~gr4vy_nb.errors.ConfigError` that names the problem but never echoes the key.
``repr``/``str`` show the key's ``kid`` (its thumbprint), never the key or a token.

With nothing configured, :meth:`Settings.from_env` returns settings whose ``configured`` is
``False``; the notebooks then fall back to the embedded sandbox, and anything that needs a
target (:meth:`Settings.require`, :meth:`Settings.signer`) raises ``ConfigError`` saying how
to configure one.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .api.auth import TokenSigner, load_private_key, thumbprint
from .api.retry import RetryPolicy
from .errors import ConfigError

__all__ = ["CONFIG_DIR_ENV", "ENV_VARS", "HOW_TO_CONFIGURE", "MASK_KEY_ENV", "Settings", "Timeouts", "config_dir"]

Environment = Literal["sandbox", "production"]

ENV_VARS: tuple[str, ...] = (
    "GR4VY_ID",
    "GR4VY_ENVIRONMENT",
    "GR4VY_PRIVATE_KEY_FILE",
    "GR4VY_PRIVATE_KEY",
    "GR4VY_MERCHANT_ACCOUNT_ID",
    "GR4VY_BASE_URL",
)
"""The environment variables :meth:`Settings.from_env` reads."""

HOW_TO_CONFIGURE = (
    "set GR4VY_ID, GR4VY_ENVIRONMENT (sandbox or production) and GR4VY_PRIVATE_KEY_FILE "
    "(optionally GR4VY_MERCHANT_ACCOUNT_ID) in the environment or in a .env file; "
    "or run `gr4vy-nb sandbox` and set GR4VY_BASE_URL to its URL (e.g. http://127.0.0.1:8787) "
    "and GR4VY_PRIVATE_KEY_FILE to its key file"
)

MASK_KEY_ENV = "GR4VY_NB_MASK_KEY"
"""The variable holding a masking key (any text) that wins over the one kept in the config folder."""
CONFIG_DIR_ENV = "GR4VY_NB_CONFIG_DIR"
"""The variable that moves the user's gr4vy-nb folder (default ``~/.gr4vy-nb``), e.g. for tests."""


def config_dir() -> Path:
    """The user's gr4vy-nb folder (``$GR4VY_NB_CONFIG_DIR``, else ``~/.gr4vy-nb``); not created here."""
    override = os.environ.get(CONFIG_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    try:
        home = Path.home()
    except RuntimeError:  # no HOME and no passwd entry (some containers)
        import tempfile

        home = Path(tempfile.gettempdir())
    return home / ".gr4vy-nb"


_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Seconds to wait for a connection and for each answer (``requests``' ``(connect, read)``)."""

    connect: float = 5.0
    read: float = 30.0

    def __post_init__(self) -> None:
        for name in ("connect", "read"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"timeouts.{name} must be a positive number of seconds")

    def as_tuple(self) -> tuple[float, float]:
        """``(connect, read)`` in seconds, as ``requests`` and ``urllib3`` take them."""
        return (float(self.connect), float(self.read))


def _is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True, repr=False)
class Settings:
    """Where and how to call the Gr4vy API; frozen, keyword-only, secrets hidden.

    Args:
        gr4vy_id: the instance id (``acme`` in ``api.sandbox.acme.gr4vy.app``); may be omitted
            when ``base_url`` is given.
        environment: ``"sandbox"`` or ``"production"``.
        merchant_account_id: sent as ``x-gr4vy-merchant-account-id`` on every request.
        base_url: overrides the URL derived from the id and environment (e.g. a local sandbox).
            Plain ``http`` is accepted for loopback hosts only.
        private_key_file: the merchant's EC P-521 private key (PEM file).
        private_key: the same key as PEM text (instead of the file).
        token: a ready bearer token, used as is for every call (no key needed).
        timeouts: a :class:`Timeouts` or a ``(connect, read)`` pair in seconds.
        retry: the :class:`~gr4vy_nb.api.retry.RetryPolicy` for every call.

    Raises:
        ConfigError: a value is invalid, or the key cannot be used (the message names the
            file, never the key's content).
    """

    gr4vy_id: str | None = None
    environment: Environment = "sandbox"
    merchant_account_id: str = "default"
    base_url: str | None = None
    private_key_file: Path | None = None
    private_key: str | None = None
    token: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        env = str(self.environment).strip().lower()
        if env not in ("sandbox", "production"):
            raise ConfigError(f"environment must be 'sandbox' or 'production', not {self.environment!r}")
        object.__setattr__(self, "environment", env)
        if self.gr4vy_id is not None:
            gid = self.gr4vy_id.strip().lower()
            if not _ID_RE.match(gid):
                raise ConfigError(
                    f"GR4VY_ID {self.gr4vy_id!r} is not a Gr4vy instance id (letters, digits and '-', "
                    "as in api.sandbox.<id>.gr4vy.app)"
                )
            object.__setattr__(self, "gr4vy_id", gid)
        if not isinstance(self.merchant_account_id, str) or not self.merchant_account_id.strip():
            raise ConfigError("merchant_account_id must not be empty (Gr4vy's default account is 'default')")
        if any(c in self.merchant_account_id for c in "\r\n\0"):
            raise ConfigError("merchant_account_id must be a single line of text")
        object.__setattr__(self, "merchant_account_id", self.merchant_account_id.strip())
        object.__setattr__(self, "base_url", self._resolve_base_url())
        if isinstance(self.timeouts, tuple | list):
            connect, read = self.timeouts
            object.__setattr__(self, "timeouts", Timeouts(connect=connect, read=read))
        elif isinstance(self.timeouts, int | float):
            object.__setattr__(self, "timeouts", Timeouts(connect=self.timeouts, read=self.timeouts))
        if not isinstance(self.retry, RetryPolicy):
            raise ConfigError("retry must be a RetryPolicy")
        if self.private_key_file is not None:
            object.__setattr__(self, "private_key_file", Path(self.private_key_file).expanduser())
        if self.private_key_file is not None and self.private_key is not None:
            raise ConfigError("give the private key as a file or as PEM text, not both")
        if self.token is not None and (self.private_key_file is not None or self.private_key is not None):
            raise ConfigError("give either a private key or a ready token, not both")
        if self.token is not None:
            token = self.token.strip()
            if token.lower().startswith("bearer "):
                token = token[7:].strip()
            if not token or any(c.isspace() for c in token):
                raise ConfigError("the token must be a single bearer token (a JWT), without spaces")
            object.__setattr__(self, "token", token)
        # Read and check the key now: a bad key should stop a command before anything is sent.
        object.__setattr__(self, "_key", self._load_key())

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        dotenv_path: str | os.PathLike[str] | None = ".env",
        *,
        required: bool = False,
        **overrides: Any,
    ) -> Settings:
        """Build settings from ``GR4VY_*`` variables and a ``.env`` file (the real environment wins).

        Args:
            env: the variables to read (``os.environ`` when not given).
            dotenv_path: a ``.env`` file read with python-dotenv if it exists; ``None`` to skip.
            required: raise ``ConfigError`` when nothing is configured, instead of returning
                settings whose ``configured`` is ``False``.
            overrides: keyword arguments of :class:`Settings` that win over the variables
                (e.g. ``timeouts=``, ``retry=``).

        Raises:
            ConfigError: a variable is invalid, the key file is missing or unusable, an id is
                given without credentials, or (with ``required``) nothing is configured.
        """
        values: dict[str, str] = {}
        if dotenv_path is not None and Path(dotenv_path).is_file():
            from dotenv import dotenv_values

            values.update({k: v for k, v in dotenv_values(dotenv_path).items() if k in ENV_VARS and v})
        source = os.environ if env is None else env
        values.update({k: source[k] for k in ENV_VARS if source.get(k)})

        kwargs: dict[str, Any] = {}
        if "GR4VY_ID" in values:
            kwargs["gr4vy_id"] = values["GR4VY_ID"]
        if "GR4VY_ENVIRONMENT" in values:
            kwargs["environment"] = values["GR4VY_ENVIRONMENT"]
        if "GR4VY_MERCHANT_ACCOUNT_ID" in values:
            kwargs["merchant_account_id"] = values["GR4VY_MERCHANT_ACCOUNT_ID"]
        if "GR4VY_BASE_URL" in values:
            kwargs["base_url"] = values["GR4VY_BASE_URL"]
        if "GR4VY_PRIVATE_KEY_FILE" in values:
            kwargs["private_key_file"] = Path(values["GR4VY_PRIVATE_KEY_FILE"])
        if "GR4VY_PRIVATE_KEY" in values:
            if "private_key_file" in kwargs:
                raise ConfigError("set GR4VY_PRIVATE_KEY_FILE or GR4VY_PRIVATE_KEY, not both")
            # .env files often hold the PEM on one line with literal "\n".
            kwargs["private_key"] = values["GR4VY_PRIVATE_KEY"].replace("\\n", "\n")
        kwargs.update(overrides)
        settings = cls(**kwargs)
        has_target = settings.gr4vy_id is not None or settings.base_url is not None
        if has_target and not settings.has_credentials:
            raise ConfigError(
                f"{settings.target} is configured but no credentials are: set GR4VY_PRIVATE_KEY_FILE "
                "to the EC P-521 private key downloaded from the Gr4vy dashboard (or GR4VY_PRIVATE_KEY)"
            )
        if required:
            settings.require()
        return settings

    @classmethod
    def for_sandbox(
        cls, sandbox_or_url: Any, private_key_file: str | os.PathLike[str] | None = None, **overrides: Any
    ) -> Settings:
        """Settings pointing at a local sandbox emulator.

        ``sandbox_or_url`` is the object :func:`~gr4vy_nb.sandbox.start_sandbox` returns (its
        ``base_url`` and ``private_key_file`` are used) or a URL, with ``private_key_file``.
        Other :class:`Settings` arguments (``merchant_account_id=``, ``timeouts=``, ``retry=``,
        ``token=`` ...) may be given as keywords.
        """
        if isinstance(sandbox_or_url, str):
            base_url = sandbox_or_url
        else:
            base_url = sandbox_or_url.base_url
            if private_key_file is None:
                private_key_file = getattr(sandbox_or_url, "private_key_file", None)
        kwargs: dict[str, Any] = {"base_url": base_url, "environment": "sandbox"}
        if private_key_file is not None and "token" not in overrides and "private_key" not in overrides:
            kwargs["private_key_file"] = Path(private_key_file)
        kwargs.update(overrides)
        settings = cls(**kwargs)
        if not settings.is_local:
            raise ConfigError(f"{settings.base_url} is not a local sandbox (expected a loopback address)")
        return settings

    def require(self) -> Settings:
        """Return ``self`` when a target and credentials are configured, else raise ``ConfigError``."""
        if not self.configured:
            raise ConfigError(f"no Gr4vy target is configured: {HOW_TO_CONFIGURE}")
        return self

    # ------------------------------------------------------------------ derived values

    def _resolve_base_url(self) -> str | None:
        if self.base_url is None or not str(self.base_url).strip():
            if self.gr4vy_id is None:
                return None
            if self.environment == "production":
                return f"https://api.{self.gr4vy_id}.gr4vy.app"
            return f"https://api.sandbox.{self.gr4vy_id}.gr4vy.app"
        url = str(self.base_url).strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"GR4VY_BASE_URL must be an http(s) URL such as http://127.0.0.1:8787, not {url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ConfigError("GR4VY_BASE_URL must not contain credentials, a query or a fragment")
        if parts.scheme == "http" and not _is_loopback_host(parts.hostname):
            raise ConfigError(
                f"GR4VY_BASE_URL {url!r} uses plain http on a non-local host; tokens would travel "
                "unencrypted. Use https (plain http is allowed for a local sandbox only)"
            )
        return url

    def _load_key(self) -> Any:
        if self.private_key is not None:
            return load_private_key(self.private_key, source="the private key given (GR4VY_PRIVATE_KEY)")
        if self.private_key_file is None:
            return None
        path = self.private_key_file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"the private key file {str(path)!r} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"the private key file {str(path)!r} is a directory") from None
        except OSError as exc:
            raise ConfigError(f"the private key file {str(path)!r} cannot be read ({exc.strerror})") from None
        return load_private_key(data, source=f"the private key file {str(path)!r}")

    @property
    def has_credentials(self) -> bool:
        """Whether a key or a token is available."""
        return self.token is not None or getattr(self, "_key", None) is not None

    @property
    def configured(self) -> bool:
        """Whether a target (id or URL) and credentials are both set."""
        return self.base_url is not None and self.has_credentials

    @property
    def is_loopback(self) -> bool:
        """Whether the base URL is a loopback address (a local sandbox, or a tunnel or proxy to anything)."""
        return self.base_url is not None and _is_loopback_host(urlsplit(self.base_url).hostname)

    @property
    def is_local(self) -> bool:
        """Whether these settings point at the local sandbox emulator: a loopback URL and the sandbox environment.

        ``GR4VY_ENVIRONMENT=production`` is never local, whatever the URL: a production API reached
        through a local tunnel or proxy is still production.
        """
        return self.is_loopback and self.environment == "sandbox"

    @property
    def is_production(self) -> bool:
        """Whether the environment is ``production`` (writes need confirmation), whatever the URL."""
        return self.environment == "production"

    @property
    def target(self) -> str:
        """What these settings point at, in words, e.g. ``"Gr4vy PRODUCTION (acme)"``."""
        if self.base_url is None:
            return "no target configured"
        if self.is_local:
            return "local sandbox emulator"
        parts = urlsplit(self.base_url)
        name = self.gr4vy_id or (parts.netloc if self.is_loopback else parts.hostname)
        if self.environment == "production":
            return f"Gr4vy PRODUCTION ({name})"
        return f"Gr4vy sandbox ({name})"

    @cached_property
    def kid(self) -> str | None:
        """The key's thumbprint (the token ``kid``), or the ready token's ``kid``; ``None`` if unknown."""
        key = getattr(self, "_key", None)
        if key is not None:
            return thumbprint(key)
        if self.token is not None:
            import jwt

            try:
                kid = jwt.get_unverified_header(self.token).get("kid")
            except jwt.PyJWTError:
                return None
            return kid if isinstance(kid, str) and len(kid) <= 128 else None
        return None

    @cached_property
    def _signer(self) -> TokenSigner:
        return TokenSigner(self._key)  # type: ignore[attr-defined]

    def signer(self) -> TokenSigner:
        """The token signer for the configured key (one per settings value, so tokens are cached).

        Raises:
            ConfigError: no key is configured (only a ready token, or nothing).
        """
        if getattr(self, "_key", None) is None:
            if self.token is not None:
                raise ConfigError("these settings carry a ready token, not a private key: nothing to sign with")
            raise ConfigError(f"no private key is configured: {HOW_TO_CONFIGURE}")
        return self._signer

    # ------------------------------------------------------------------ display

    def _credentials_text(self) -> str:
        if getattr(self, "_key", None) is not None:
            return f"key kid={self.kid}"
        if self.token is not None:
            return f"token kid={self.kid}" if self.kid else "token"
        return "none"

    def __repr__(self) -> str:
        return (
            f"Settings(target={self.target!r}, gr4vy_id={self.gr4vy_id!r}, environment={self.environment!r}, "
            f"merchant_account_id={self.merchant_account_id!r}, base_url={self.base_url!r}, "
            f"credentials={self._credentials_text()!r}, timeouts={self.timeouts.as_tuple()!r}, "
            f"max_attempts={self.retry.max_attempts})"
        )

    def __str__(self) -> str:
        return (
            f"{self.target} at {self.base_url or '-'}, merchant account {self.merchant_account_id!r}, "
            f"credentials: {self._credentials_text()}"
        )

    def __getstate__(self) -> dict[str, Any]:
        # Pickling (e.g. to a worker process) carries the PEM, not the key object or a signer.
        state = {k: v for k, v in self.__dict__.items() if k not in ("_key", "_signer", "kid")}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "_key", self._load_key())
