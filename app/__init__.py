"""The application factory: the only place that wires things together."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.orm import sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from app import db, errors, i18n
from app.api import Api, openapi_config, register_blueprints
from app.auth import api_keys
from app.config import INSTANCE_DIR, Settings
from app.console import web as console
from app.infra import logs, metrics, observe, ratelimit, session_events
from app.infra.body_deadline import BodyDeadline
from app.infra.flask_app import App
from app.infra.json_provider import OrjsonProvider
from app.notices import on_duty_cache
from app.notices.metrics import OutboxCollector
from app.notices.stream import WAKE_KEY, NoticeHub, new_notice_recipients
from app.rules import cache as rules_cache


def create_app(settings: Settings | None = None) -> Flask:
    if settings is None:
        from app.cli import loading_for_offline_command

        settings = Settings.from_env(require_jwt_secret=not loading_for_offline_command())
    app = App(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    app.json = OrjsonProvider(app)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_content_length,
        LOGIN_RATE_LIMIT=settings.login_rate_limit,
        LOGIN_FAILURE_LIMIT=settings.login_failure_limit,
        LOGIN_ACCOUNT_FAILURE_LIMIT=settings.login_account_failure_limit,
        PASSWORD_RESET_RATE_LIMIT=settings.password_reset_rate_limit,
        TRACE_RATE_LIMIT=settings.trace_rate_limit,
        TRACE_UNKNOWN_RATE_LIMIT=settings.trace_unknown_rate_limit,
        TRACE_REPORT_RATE_LIMIT=settings.trace_report_rate_limit,
        PROBLEM_TYPE_BASE=settings.problem_type_base,
        **openapi_config(),
    )
    i18n.init_app(app)
    observe.init_app(app)  # first: the stamp wraps Flask itself, and its step is the first hook registered
    if settings.trusted_proxy_count:
        hops = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    logs.configure(settings.log_format)
    app.wsgi_app = BodyDeadline(  # type: ignore[method-assign]
        app.wsgi_app,
        grace_seconds=settings.body_grace_seconds,
        min_bytes_per_second=max(1, settings.body_min_bytes_per_second),
        max_bytes=max(
            settings.max_content_length,
            settings.product_import_max_bytes,
            settings.photo_max_bytes,
            settings.attachment_max_bytes,
        ),
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    engine = db.make_engine(
        settings.database_url,
        write_wait_seconds=settings.database_write_wait_seconds,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    app.extensions["settings"] = settings
    app.extensions["engine"] = engine
    # A closed session refuses further use instead of quietly opening a new transaction: code that outlives its
    # request (a streamed body) and still reads through the request's session fails loudly, not by holding a lock.
    sessions = sessionmaker(bind=engine, expire_on_commit=False, close_resets_only=False)
    # The hub's loops run on threads of their own, so they read on sessions of their own: never through a
    # connection someone else holds (the tests bind `sessions` to one thread's rollback transaction).
    hub = NoticeHub(
        sessionmaker(bind=engine),
        redis_url=settings.redis_url,
        poll_seconds=settings.stream_poll_seconds,
        sign_in_check_seconds=settings.stream_heartbeat_seconds,
    )
    # A commit that created notices rings the streams waiting for them.
    session_events.after_commit(sessions, key=WAKE_KEY, collect=new_notice_recipients, committed=hub.committed)
    app.extensions["sessionmaker"] = sessions
    app.extensions["notice_hub"] = hub
    app.teardown_appcontext(db.close_session)
    api_keys.init_app(app)  # what valid API keys open, believed for a few seconds per process
    rules_cache.init_app(app, settings)
    on_duty_cache.init_app(app)  # who the officers on duty are, believed for a few seconds per process

    app.register_error_handler(errors.DomainError, errors.render_domain_error)
    app.register_blueprint(metrics.blp)
    metrics.collect_at_scrape(app, OutboxCollector(app))
    for unavailable in errors.DATABASE_UNAVAILABLE:
        app.register_error_handler(unavailable, errors.render_database_unavailable)
    ratelimit.init_app(app, settings)
    api = Api(app)
    register_blueprints(app, api)
    console.init_app(app, settings)

    from app.cli import register_commands

    register_commands(app)
    metrics.watch(app)
    return app
