"""Settings, read once from the environment into a frozen object."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask import current_app

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class SettingsError(RuntimeError):
    """A required setting is missing or malformed; raised at start-up, never at request time."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}.") from None


def _optional_int(env: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    """An integer of at least `minimum`, or None when unset (the caller's default applies)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    value = _int(env, name, 0)
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {raw!r}.")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}.") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}.")
    return value


def _decimal(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SettingsError(f"{name} must be a number, got {raw!r}.") from None
    if not value.is_finite() or value < 0:
        raise SettingsError(f"{name} must be a non-negative number, got {raw!r}.")
    return value


def _host(raw: str) -> str:
    host = raw.strip().lower()
    # The host is printed inside every QR code; a scheme or path here would corrupt them all.
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?", host):
        raise SettingsError(f"TRACE_HOST must be a bare host name such as t.park.example.cn, got {raw!r}.")
    return host


def _metrics_token(raw: str | None) -> str | None:
    if raw is not None and len(raw) < 16:
        raise SettingsError("METRICS_TOKEN must be at least 16 random characters (or unset, to turn /metrics off).")
    return raw


def _log_format(raw: str) -> str:
    if raw not in ("json", "text"):
        raise SettingsError(f"LOG_FORMAT must be json or text, got {raw!r}.")
    return raw


def _tristate(env: Mapping[str, str], name: str) -> bool | None:
    raw = (env.get(name) or "auto").strip().lower()
    if raw not in ("auto", "1", "0"):
        raise SettingsError(f"{name} must be auto, 1 or 0, got {raw!r}.")
    return None if raw == "auto" else raw == "1"


def normalize_database_url(url: str) -> str:
    """Let operators write the usual postgres:// URL; SQLAlchemy needs the driver named."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str
    # None only in a process that neither serves HTTP nor issues tokens (the offline `flask` commands).
    jwt_secret: str | None
    access_token_ttl: timedelta = timedelta(minutes=15)
    refresh_token_ttl: timedelta = timedelta(days=30)
    jwt_issuer: str = "smart-park"
    jwt_audience: str = "smart-park-api"
    login_rate_limit: str = "10 per minute"
    rate_limit_storage_uri: str = "memory://"
    rate_limit_key_prefix: str = "smart-park"
    # Failed sign-ins per account and address, and per account from addresses it has not signed in from lately
    # (app/auth/throttle.py): throttles, never a lockout.
    login_failure_limit: str = "5 per 15 minutes"
    login_account_failure_limit: str = "20 per hour"
    known_address_ttl: timedelta = timedelta(days=30)
    # Forgotten-password texts (app/auth/reset.py): per client address on both routes, and per account, silently.
    password_reset_rate_limit: str = "5 per hour"
    password_reset_account_limit: str = "3 per hour"
    password_min_length: int = 10
    max_content_length: int = 1024 * 1024
    # A request body must start within the grace and then keep this average pace (app/infra/body_deadline.py).
    body_grace_seconds: float = 10.0
    body_min_bytes_per_second: int = 2048
    trusted_proxy_count: int = 0
    problem_type_base: str = "https://smartpark.example.cn/problems/"
    upload_dir: Path = INSTANCE_DIR / "uploads"
    photo_max_bytes: int = 5 * 1024 * 1024
    # A document on a list (PDF, JPEG, PNG): scanned invoices and contracts run to a few megabytes.
    attachment_max_bytes: int = 10 * 1024 * 1024
    demo_password: str | None = None
    # Fan-out of "you have a new notice" across workers and hosts; without it each worker polls the database.
    redis_url: str | None = None
    stream_heartbeat_seconds: float = 15.0
    stream_poll_seconds: float = 1.0
    stream_retry_ms: int = 3000
    stream_ticket_ttl: timedelta = timedelta(seconds=60)
    # How far the weighbridge may differ from declared goods plus tare before a person looks.
    gate_weight_tolerance_percent: Decimal = Decimal("3")
    # Released goods that have not passed a gate after this long raise a risk warning.
    gate_overdue: timedelta = timedelta(hours=72)
    # How old an offline action may be when a handheld syncs it (POST /api/v1/sync); older ones are refused.
    # No longer than stored answers are kept (`flask idempotency purge` keeps at least this): exactly once needs both.
    sync_window: timedelta = timedelta(hours=48)
    # Host of the GS1 Digital Link URIs printed on trace codes (the resolver serves its root).
    trace_host: str = "t.smartpark.example.cn"
    trace_rate_limit: str = "100 per minute"
    # A second, tighter budget spent only by lookups of unknown codes, so enumerating serials is slow.
    trace_unknown_rate_limit: str = "10 per minute"
    # A code looked up more often than this, or from more /24 networks or regions within the window, is suspicious.
    trace_scan_limit: int = 50
    trace_network_limit: int = 5
    trace_region_limit: int = 3
    trace_network_window: timedelta = timedelta(hours=24)
    # The tolerance, the overdue hours and the four clone limits are defaults: an admin may override them at run
    # time (app/rules). Each process reads the overrides again after this many seconds, so a change reaches
    # every worker that soon.
    rules_cache_seconds: float = 5.0
    # "Report a suspected fake" on the trace page, per client address: each report reaches an officer's queue.
    trace_report_rate_limit: str = "5 per hour"
    # Who runs the park, shown on every trace page so a shopper in doubt knows whom to call.
    park_name: str = "智慧园区综合保税区 Smart Park Comprehensive Bonded Zone"
    park_phone: str = "023-00000000"
    park_address: str = "重庆市 Chongqing"
    customs_hotline: str = "12360"
    product_import_max_bytes: int = 16 * 1024 * 1024
    # Scans are written by a background thread so lookups never wait for an INSERT; tests write them inline.
    trace_scans_in_background: bool = True
    # Connections each process keeps open, and how many more it may open under load; None keeps the backend's
    # default (db.make_engine). Workers times (size + overflow) must stay under the server's max_connections.
    db_pool_size: int | None = None
    db_max_overflow: int | None = None
    # On SQLite, how long a write waits for the database's one write lock before it answers 503 database_busy.
    database_write_wait_seconds: float = 10.0
    # Bearer token Prometheus sends to GET /metrics; unset, /metrics answers 404.
    metrics_token: str | None = None
    # "json" (one object per line, what gunicorn.conf.py sets) or "text" (the CLI's default).
    log_format: str = "text"
    # A console sign-in unused this long ends (app/console/signin.py).
    console_idle: timedelta = timedelta(minutes=30)
    # The console's cookie is Secure: True, False (plain http on a LAN), or None, when the request came over HTTPS.
    console_cookie_secure: bool | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, *, require_jwt_secret: bool = True) -> Settings:
        """The settings the environment names; without JWT_SECRET only if `require_jwt_secret` is false."""
        secret = env.get("JWT_SECRET") or None
        # A short HMAC key is guessable offline from any token; refuse to start with one, even where none is signed.
        if (secret is None and require_jwt_secret) or (secret is not None and len(secret) < 32):
            raise SettingsError(
                "JWT_SECRET must be set to at least 32 random characters "
                "(scripts/run.sh generates one into instance/ for local use)."
            )
        default_sqlite = f"sqlite:///{INSTANCE_DIR / 'park.db'}"
        return cls(
            database_url=normalize_database_url(env.get("DATABASE_URL") or default_sqlite),
            jwt_secret=secret,
            access_token_ttl=timedelta(minutes=_int(env, "ACCESS_TOKEN_MINUTES", 15)),
            refresh_token_ttl=timedelta(days=_int(env, "REFRESH_TOKEN_DAYS", 30)),
            login_rate_limit=env.get("LOGIN_RATE_LIMIT", cls.login_rate_limit),
            rate_limit_storage_uri=env.get("RATE_LIMIT_STORAGE_URI", cls.rate_limit_storage_uri),
            rate_limit_key_prefix=env.get("RATE_LIMIT_KEY_PREFIX", cls.rate_limit_key_prefix),
            login_failure_limit=env.get("LOGIN_FAILURE_LIMIT", cls.login_failure_limit),
            password_reset_rate_limit=env.get("PASSWORD_RESET_RATE_LIMIT", cls.password_reset_rate_limit),
            password_reset_account_limit=env.get("PASSWORD_RESET_ACCOUNT_LIMIT", cls.password_reset_account_limit),
            login_account_failure_limit=env.get("LOGIN_ACCOUNT_FAILURE_LIMIT", cls.login_account_failure_limit),
            known_address_ttl=timedelta(days=_int(env, "KNOWN_ADDRESS_DAYS", 30)),
            password_min_length=_int(env, "PASSWORD_MIN_LENGTH", cls.password_min_length),
            max_content_length=_int(env, "MAX_CONTENT_LENGTH", cls.max_content_length),
            body_grace_seconds=_float(env, "BODY_GRACE_SECONDS", cls.body_grace_seconds),
            body_min_bytes_per_second=_int(env, "BODY_MIN_BYTES_PER_SECOND", cls.body_min_bytes_per_second),
            trusted_proxy_count=_int(env, "TRUSTED_PROXY_COUNT", 0),
            upload_dir=Path(env["UPLOAD_DIR"]) if env.get("UPLOAD_DIR") else INSTANCE_DIR / "uploads",
            photo_max_bytes=_int(env, "PHOTO_MAX_BYTES", cls.photo_max_bytes),
            attachment_max_bytes=_int(env, "ATTACHMENT_MAX_BYTES", cls.attachment_max_bytes),
            demo_password=env.get("DEMO_PASSWORD") or None,
            redis_url=env.get("REDIS_URL") or None,
            stream_heartbeat_seconds=_float(env, "STREAM_HEARTBEAT_SECONDS", cls.stream_heartbeat_seconds),
            stream_poll_seconds=_float(env, "STREAM_POLL_SECONDS", cls.stream_poll_seconds),
            gate_weight_tolerance_percent=_decimal(
                env, "GATE_WEIGHT_TOLERANCE_PERCENT", cls.gate_weight_tolerance_percent
            ),
            gate_overdue=timedelta(hours=_int(env, "GATE_OVERDUE_HOURS", 72)),
            sync_window=timedelta(hours=_int(env, "SYNC_WINDOW_HOURS", 48)),
            trace_host=_host(env.get("TRACE_HOST") or cls.trace_host),
            trace_rate_limit=env.get("TRACE_RATE_LIMIT", cls.trace_rate_limit),
            trace_unknown_rate_limit=env.get("TRACE_UNKNOWN_RATE_LIMIT", cls.trace_unknown_rate_limit),
            trace_scan_limit=_int(env, "TRACE_SCAN_LIMIT", cls.trace_scan_limit),
            trace_network_limit=_int(env, "TRACE_NETWORK_LIMIT", cls.trace_network_limit),
            trace_region_limit=_int(env, "TRACE_REGION_LIMIT", cls.trace_region_limit),
            trace_network_window=timedelta(hours=_int(env, "TRACE_NETWORK_WINDOW_HOURS", 24)),
            rules_cache_seconds=_float(env, "RULES_CACHE_SECONDS", cls.rules_cache_seconds),
            trace_report_rate_limit=env.get("TRACE_REPORT_RATE_LIMIT", cls.trace_report_rate_limit),
            park_name=env.get("PARK_NAME") or cls.park_name,
            park_phone=env.get("PARK_PHONE") or cls.park_phone,
            park_address=env.get("PARK_ADDRESS") or cls.park_address,
            customs_hotline=env.get("CUSTOMS_HOTLINE") or cls.customs_hotline,
            product_import_max_bytes=_int(env, "PRODUCT_IMPORT_MAX_BYTES", cls.product_import_max_bytes),
            trace_scans_in_background=env.get("TRACE_SCANS_IN_BACKGROUND", "1") != "0",
            # 0 would mean "no limit" to SQLAlchemy's pool: refuse it rather than open connections without bound.
            db_pool_size=_optional_int(env, "DB_POOL_SIZE", minimum=1),
            db_max_overflow=_optional_int(env, "DB_MAX_OVERFLOW", minimum=0),
            database_write_wait_seconds=_float(env, "DATABASE_WRITE_WAIT_SECONDS", cls.database_write_wait_seconds),
            metrics_token=_metrics_token(env.get("METRICS_TOKEN") or None),
            log_format=_log_format(env.get("LOG_FORMAT") or cls.log_format),
            console_idle=timedelta(minutes=_optional_int(env, "CONSOLE_IDLE_MINUTES", minimum=1) or 30),
            console_cookie_secure=_tristate(env, "CONSOLE_COOKIE_SECURE"),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def current_settings() -> Settings:
    """The settings of the running app (routes and CLI; services receive them as arguments)."""
    # The app itself, as app/infra/context.py's the_app() takes it (which this module, below infra, cannot import).
    return current_app._get_current_object().extensions["settings"]  # type: ignore[attr-defined]
