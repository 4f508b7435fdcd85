"""Configuration from the command line and the environment, resolved once by the bootstrap.

Environment variables:

``LEDGER_DB``
    Where the event store lives. A file path or ``sqlite:///path`` selects the embedded SQLite
    store (default: ``ledger.db`` in the current directory); ``postgresql://user:pass@host:port/db``
    selects PostgreSQL. ``--db`` on the command line wins.
``LEDGER_GRACE_DAYS``
    Days after an order at which its term starts if no license was assigned before (R6, default 60).
``LEDGER_MAX_FUTURE_DAYS``
    How many days after the moment of recording a command's ``at`` may lie (R20, default 731), so
    that every derived date (grace end, term end, invitation expiry, warranty end) is representable.
``LEDGER_MAINTENANCE_WAIT``
    Seconds ``ledger replay`` (or ``--check``) waits for another one running on the same store
    before it gives up (exit 2, nothing changed; default 300).
``LEDGER_SECRET_KEY`` / ``LEDGER_SECRET_FILE``
    The key that derives invitation tokens (R15). Without either, a random key is created once in
    ``<sqlite file>.key`` (or ``ledger.key`` for PostgreSQL), readable by its owner only.
``LEDGER_COUNTRIES``
    A JSON file of country-table overrides, ``{"RU": {"available": false}, ...}`` (R12).
``LEDGER_SUPPORT_TARGETS``
    A JSON file of support-target overrides (R25, R27), e.g.
    ``{"select": {"critical": {"first_response": {"minutes": 30}}}, "calendar": {"holidays": ["2026-12-25"]}}``.
``LEDGER_PG_POOL_SIZE`` / ``LEDGER_PG_MAX_OVERFLOW``
    PostgreSQL connections each process keeps open (default 5) and may open beyond them under load
    (default 10). See "PostgreSQL pool sizes" below.
``LEDGER_PG_CONNECT_TIMEOUT``
    Seconds to wait for a connection, new or from the pool (default 10).
``LEDGER_PG_LOCK_TIMEOUT``
    Seconds a writer waits for the events table's insert lock before the attempt fails and is
    retried by the library (default 5). The lock is held only while one command's events are
    inserted (milliseconds), so waiting longer than this means something else holds it.
``LEDGER_PG_PRE_PING``
    ``n`` (default) takes connections from the pool as they are: a broken one (a restarted server)
    fails its operation, which the library retries on a new connection (up to 10 times). ``y``
    checks every connection with a round trip first, which costs one round trip per read or write.
``LEDGER_COPY_ON_READ``
    ``n`` (default): a command works on the cached aggregate itself and a command that fails or is
    refused drops what it read from the cache. ``y`` copies every aggregate read from the cache,
    for a process that shares one application object between threads.
``LEDGER_AGGREGATE_CACHE_EVENTS``
    How much the application's aggregate cache holds, in events (default 50000, about 35-60 MiB of
    customer state): an LRU bounded by the events of the aggregates it holds (each counts its
    version plus 8 for its fixed part, ``ledger.cache``), not by their number, since a customer's
    state grows with its events. ``0`` caches nothing (every command reads its aggregates from the
    store). README, "Memory".
``LEDGER_OIDC_ISSUERS``
    The operator's trusted OpenID Connect issuers (R21): a JSON list of ``{"issuer": URL,
    "audience": CLIENT_ID}``. An ID token from one of them is accepted for every customer (the
    principal still needs a role there). Customers add their own issuers with ``ConfigureSso`` (R22).
``LEDGER_OIDC_LEEWAY``
    Seconds of clock skew allowed on ``exp``, ``iat`` and ``nbf`` (default 60, at most 300).
``LEDGER_OIDC_TIMEOUT``
    Seconds a discovery or JWKS fetch may take, connecting and reading each (default 5).
``LEDGER_OIDC_JWKS_CACHE``
    Seconds an issuer's discovery document and keys are used before they are fetched again (default 600).
``LEDGER_OIDC_JWKS_REFRESH``
    Seconds between two refreshes caused by a token with an unknown ``kid`` (default 30): a key
    rotation is picked up at once, a flood of made-up key ids costs one fetch per interval.
``LEDGER_AUDIT``
    ``y`` (default): every event is appended to the verifiable audit log in its own transaction
    (SPEC section 8, ``ledger verify``). ``n`` records events without it (for measuring its cost
    only: events recorded so are reported by ``ledger verify`` as outside the log).
``LEDGER_MAX_ATTEMPTS``
    How often a command is tried when it loses an optimistic-concurrency race (default 8); a command
    that loses every time is refused with code ``concurrency_conflict`` (R18) and records nothing.

PostgreSQL pool sizes
    A ledger process runs one command at a time and uses one connection at a time (a read, or the
    insert transaction), so ``LEDGER_PG_POOL_SIZE=1`` or ``2`` with ``LEDGER_PG_MAX_OVERFLOW=2`` is
    enough for a command-line or worker process; the default 5 (+10 overflow) suits a process that
    serves requests from several threads (one connection per concurrent request, plus one for a
    follower). The server's ``max_connections`` (100 by default) must exceed the sum over all
    processes of pool size + overflow. More writer processes do not make writes faster once the
    machine's cores are busy: inserts are serialised by the events table lock, and each command
    costs mostly CPU in the writer (validation, copying the cached aggregate, encoding events) and
    three to four round trips. ``python -m benchmarks.pg_scaling`` measures 1, 2 and 4 writers.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlparse

from aggregates.catalog import DEFAULT_GRACE_DAYS, CountryTable
from aggregates.sso import issuer_problem
from aggregates.support import SupportTargets

DEFAULT_DB = "ledger.db"
DEFAULT_MAX_FUTURE_DAYS = 731
DEFAULT_CACHE_EVENTS = 50_000


class ConfigurationError(Exception):
    """A setting that cannot be used; the message names the setting."""


class MissingSecretKey(ConfigurationError):
    """No ``LEDGER_SECRET_KEY`` and no key file where ``secret_key_file`` says it is (``file``; None
    for an in-memory store), for a process that must not create one."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        where = file if file is not None else "an in-memory store's key (it lives only in its process)"
        super().__init__(f"no secret key: {where} does not exist; set LEDGER_SECRET_KEY or LEDGER_SECRET_FILE")


@dataclass(frozen=True)
class StoreSettings:
    """Where the events live: ``kind`` is ``sqlite`` or ``postgres``; ``env`` configures the library."""

    kind: str
    url: str
    env: Mapping[str, str]
    sqlite_path: Path | None = None

    @property
    def sqlalchemy_url(self) -> str:
        """The same database for SQLAlchemy (the read models live beside the events)."""
        if self.kind == "postgres":
            e = self.env
            user = quote(e["POSTGRES_USER"], safe="")
            password = quote(e["POSTGRES_PASSWORD"], safe="")
            return (
                f"postgresql+psycopg://{user}:{password}@{e['POSTGRES_HOST']}:{e['POSTGRES_PORT']}/"
                f"{e['POSTGRES_DBNAME']}"
            )
        if self.sqlite_path is None:
            return "sqlite://"
        return f"sqlite:///{self.sqlite_path}"

    @property
    def schema(self) -> str | None:
        return self.env.get("POSTGRES_SCHEMA")


@dataclass(frozen=True)
class OidcIssuer:
    """An OpenID Connect issuer the operator trusts, and the audience (client id) its tokens name."""

    issuer: str
    audience: str


@dataclass(frozen=True)
class OidcSettings:
    """ID-token verification (R21): the operator's issuers, clock leeway, fetch timeout and cache."""

    issuers: tuple[OidcIssuer, ...] = ()
    leeway_seconds: int = 60
    timeout_seconds: float = 5.0
    cache_seconds: int = 600
    refresh_interval_seconds: int = 30


@dataclass(frozen=True)
class Settings:
    store: StoreSettings
    grace_days: int
    secret_key: bytes
    countries: CountryTable
    max_attempts: int
    copy_on_read: bool = False
    cache_events: int = DEFAULT_CACHE_EVENTS
    oidc: OidcSettings = OidcSettings()
    signing_key_file: Path | None = None  # LEDGER_SIGNING_KEY_FILE (ledger.audit.service.key_file)
    audit_origin: str | None = None  # LEDGER_AUDIT_ORIGIN
    support_targets: SupportTargets = field(default_factory=SupportTargets.default)
    max_future_days: int = DEFAULT_MAX_FUTURE_DAYS
    maintenance_wait: int = 300


AUDIT_RECORDERS = {
    "sqlite": "ledger.audit.recorder:AuditedSQLiteRecorder",
    "postgres": "ledger.audit.recorder:AuditedPostgresRecorder",
}


PLAIN_RECORDERS = {
    "sqlite": "ledger.library:LedgerSQLiteRecorder",
    "postgres": "ledger.library:LedgerPostgresRecorder",
}


def parse_db_url(url: str, environ: Mapping[str, str] | None = None) -> StoreSettings:
    """The store at ``url``; its events are appended to the audit log unless ``LEDGER_AUDIT=n``
    (either way, the ledger's recorders write Idempotency-Key answers with the events)."""
    environ = os.environ if environ is None else environ
    store = _parse_store(url, environ)
    recorders = PLAIN_RECORDERS if _yes_no(environ, "LEDGER_AUDIT", "y") == "n" else AUDIT_RECORDERS
    env = {**store.env, "APPLICATION_RECORDER_TOPIC": recorders[store.kind]}
    return StoreSettings(kind=store.kind, url=store.url, env=env, sqlite_path=store.sqlite_path)


def _parse_store(url: str, environ: Mapping[str, str]) -> StoreSettings:
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        parsed = urlparse(url)
        if not parsed.hostname or not parsed.path.strip("/"):
            raise ConfigurationError(
                f"--db/LEDGER_DB: {url!r} needs a host and a database name "
                "(postgresql://user:pass@host:port/db)"
            )
        query = parse_qs(parsed.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parsed.path.strip("/"),
            "POSTGRES_HOST": parsed.hostname,
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or ""),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_POOL_SIZE": environ.get("LEDGER_PG_POOL_SIZE", "5"),
            "POSTGRES_MAX_OVERFLOW": environ.get("LEDGER_PG_MAX_OVERFLOW", "10"),
            "POSTGRES_CONNECT_TIMEOUT": environ.get("LEDGER_PG_CONNECT_TIMEOUT", "10"),
            "POSTGRES_LOCK_TIMEOUT": environ.get("LEDGER_PG_LOCK_TIMEOUT", "5"),
            "POSTGRES_PRE_PING": _yes_no(environ, "LEDGER_PG_PRE_PING", "n"),
            # The library's insert *function* path skips the table lock that keeps commit order
            # equal to notification order (see tests/integration/test_pg_concurrency.py): keep it off.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return StoreSettings(kind="postgres", url=url, env=env)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
    elif url.startswith("sqlite:"):
        path = url[len("sqlite:") :]
    elif "://" in url:
        raise ConfigurationError(
            f"--db/LEDGER_DB: {url!r} is neither a SQLite file nor a postgresql:// URL"
        )
    else:
        path = url
    if path == ":memory:":
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": "file::memory:?cache=shared"}
        return StoreSettings(kind="sqlite", url=url, env=env)
    file = Path(path).expanduser().resolve()
    if not file.parent.is_dir():
        raise ConfigurationError(f"--db/LEDGER_DB: folder {file.parent} does not exist")
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(file), "SQLITE_LOCK_TIMEOUT": "30"}
    return StoreSettings(kind="sqlite", url=url, env=env, sqlite_path=file)


def _yes_no(environ: Mapping[str, str], name: str, default: str) -> str:
    raw = (environ.get(name) or default).strip().lower()
    if raw in ("y", "yes", "1", "true", "on"):
        return "y"
    if raw in ("n", "no", "0", "false", "off"):
        return "n"
    raise ConfigurationError(f"{name}: {raw!r} is neither y nor n")


def secret_key_file(environ: Mapping[str, str], store: Callable[[], StoreSettings]) -> Path | None:
    """Where the ledger's secret key is kept when ``LEDGER_SECRET_KEY`` does not give it: the file
    ``LEDGER_SECRET_FILE``, else ``<sqlite file>.key`` beside the store, else ``ledger.key`` (PostgreSQL);
    None for an in-memory SQLite store, whose key lives as long as its process. ``store`` is asked
    only when ``LEDGER_SECRET_FILE`` is unset."""
    if environ.get("LEDGER_SECRET_FILE"):
        return Path(environ["LEDGER_SECRET_FILE"])
    found = store()
    if found.sqlite_path is not None:
        return found.sqlite_path.with_name(found.sqlite_path.name + ".key")
    if found.kind == "sqlite":
        return None
    return Path("ledger.key")


def secret_key(environ: Mapping[str, str], store: Callable[[], StoreSettings], *, create: bool = True) -> bytes:
    """The ledger's secret key (invitation tokens R15, API keys R23, idempotent replies): the one way
    every process finds it. ``LEDGER_SECRET_KEY``, else the file of ``secret_key_file``. With ``create``
    a missing file gets a new random key, readable by its owner only (an in-memory store gets a random
    key); without, a missing key is a ``MissingSecretKey`` naming the file."""
    if environ.get("LEDGER_SECRET_KEY"):
        return environ["LEDGER_SECRET_KEY"].encode()
    file = secret_key_file(environ, store)
    if file is None:
        if create:
            return secrets.token_bytes(32)
        raise MissingSecretKey(None)
    if not file.exists():
        if not create:
            raise MissingSecretKey(file)
        # Written under another name, then linked into place: processes that start at once on a
        # new store all read the one complete key that won, never an empty or half-written file.
        draft = file.with_name(f".{file.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):
                os.link(draft, file)
        finally:
            draft.unlink()
    elif not create and not file.is_file():
        raise MissingSecretKey(file)
    return file.read_text().strip().encode()


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name}: {value} is outside {low}..{high}")
    return value


def parse_oidc_issuers(raw: str | None) -> tuple[OidcIssuer, ...]:
    """``LEDGER_OIDC_ISSUERS``: a JSON list of ``{"issuer", "audience"}``; empty or unset is none."""
    if raw is None or not raw.strip():
        return ()
    try:
        items = json.loads(raw)
    except ValueError:
        raise ConfigurationError('LEDGER_OIDC_ISSUERS: not JSON; expected [{"issuer": …, "audience": …}]') from None
    if not isinstance(items, list):
        raise ConfigurationError('LEDGER_OIDC_ISSUERS: expected a JSON list of {"issuer", "audience"}')
    issuers: list[OidcIssuer] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"issuer", "audience"}:
            raise ConfigurationError(
                f"LEDGER_OIDC_ISSUERS[{index}]: expected exactly the keys issuer and audience"
            )
        issuer, audience = item["issuer"], item["audience"]
        if not isinstance(issuer, str) or (problem := issuer_problem(issuer)) is not None:
            raise ConfigurationError(
                f"LEDGER_OIDC_ISSUERS[{index}].issuer: {issuer!r} "
                f"{'is not a string' if not isinstance(issuer, str) else problem}"
            )
        if not isinstance(audience, str) or not audience.strip():
            raise ConfigurationError(f"LEDGER_OIDC_ISSUERS[{index}].audience: must be a non-empty string")
        issuers.append(OidcIssuer(issuer=issuer, audience=audience))
    return tuple(issuers)


def load_oidc_settings(environ: Mapping[str, str]) -> OidcSettings:
    return OidcSettings(
        issuers=parse_oidc_issuers(environ.get("LEDGER_OIDC_ISSUERS")),
        leeway_seconds=_int(environ, "LEDGER_OIDC_LEEWAY", 60, 0, 300),
        timeout_seconds=float(_int(environ, "LEDGER_OIDC_TIMEOUT", 5, 1, 60)),
        cache_seconds=_int(environ, "LEDGER_OIDC_JWKS_CACHE", 600, 0, 86400),
        refresh_interval_seconds=_int(environ, "LEDGER_OIDC_JWKS_REFRESH", 30, 0, 3600),
    )


def load_settings(db: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting; raise ConfigurationError naming the setting that cannot be used."""
    environ = os.environ if environ is None else environ
    store = parse_db_url(db or environ.get("LEDGER_DB") or DEFAULT_DB, environ)
    countries = CountryTable.default()
    if environ.get("LEDGER_COUNTRIES"):
        path = Path(environ["LEDGER_COUNTRIES"])
        try:
            overrides = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"LEDGER_COUNTRIES: cannot read {path}: {exc}") from None
        if not isinstance(overrides, dict):
            raise ConfigurationError("LEDGER_COUNTRIES: the file must hold a JSON object of countries")
        countries = countries.with_overrides(overrides)
    support_targets = _support_targets(environ)
    return Settings(
        store=store,
        grace_days=_int(environ, "LEDGER_GRACE_DAYS", DEFAULT_GRACE_DAYS, 0, 3650),
        secret_key=secret_key(environ, lambda: store),
        countries=countries,
        max_attempts=_int(environ, "LEDGER_MAX_ATTEMPTS", 8, 1, 100),
        copy_on_read=_yes_no(environ, "LEDGER_COPY_ON_READ", "n") == "y",
        cache_events=_int(environ, "LEDGER_AGGREGATE_CACHE_EVENTS", DEFAULT_CACHE_EVENTS, 0, 1_000_000_000),
        oidc=load_oidc_settings(environ),
        signing_key_file=Path(environ["LEDGER_SIGNING_KEY_FILE"]) if environ.get("LEDGER_SIGNING_KEY_FILE") else None,
        audit_origin=(environ.get("LEDGER_AUDIT_ORIGIN") or "").strip() or None,
        support_targets=support_targets,
        max_future_days=_int(environ, "LEDGER_MAX_FUTURE_DAYS", DEFAULT_MAX_FUTURE_DAYS, 0, 36500),
        maintenance_wait=_int(environ, "LEDGER_MAINTENANCE_WAIT", 300, 0, 86400),
    )


def _support_targets(environ: Mapping[str, str]) -> SupportTargets:
    table = SupportTargets.default()
    if not environ.get("LEDGER_SUPPORT_TARGETS"):
        return table
    path = Path(environ["LEDGER_SUPPORT_TARGETS"])
    try:
        overrides = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"LEDGER_SUPPORT_TARGETS: cannot read {path}: {exc}") from None
    if not isinstance(overrides, dict):
        raise ConfigurationError("LEDGER_SUPPORT_TARGETS: the file must hold a JSON object of support tiers")
    try:
        return table.with_overrides(overrides)
    except ValueError as exc:
        raise ConfigurationError(f"LEDGER_SUPPORT_TARGETS: {exc} (R25)") from None
