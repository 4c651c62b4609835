"""The console: server-rendered pages under /console/ for the people at desks (admins, officers, gate staff).

It shares the API's accounts, roles, rules and use cases; it holds no business rule of its own. A page parses a
form, calls the same use-case function the API route calls, and renders what it returns.

Modules: `web` (the `console` blueprint; the cookie, CSRF and language hooks; error pages; the list of pages),
`signin` (the cookie's sign-in, idle timeout, `console_login_required`), `account` (sign-in, sign-out, password
change), `navigation` (the menu by role), `forms` (the API's schemas fed from HTML forms), and one module per page
group: `home`; admins' `users`, `enterprises`, `rules` (run-time rules), `audit`, `gates_admin` (gates and lanes),
`receipts` (the unknown customs receipts); officers' `officer` (risk warnings), `inspection_desk`, `referrals` and the
gate operators' `gate` (the live screen, its rows polled by static/gate.js), with `desk` (their codes' words, the
post-run-redirect of their buttons). Templates in templates/console/, CSS and scripts in static/ (served at
/console/static/, the only place the Content-Security-Policy lets scripts and styles come from).

How to add a page
    1. A module app/console/<name>.py with `bp = Blueprint("<name>", __name__, url_prefix="/<path>")` (a plain
       flask.Blueprint: the console is not in the OpenAPI document). Add `<name>.bp` to `_register_pages()` in
       web.py: it is nested under the `console` blueprint, so its URL is /console/<path>, its endpoints are
       "console.<name>.<view>", and the hooks below (CSRF, language, error pages) run for it.
    2. A template templates/console/<name>/<page>.html that `{% extends "console/base.html" %}` and fills
       `title` and `content` (`head` and `scripts` too, for a chart's files from static/).
    3. An `Entry(_l("Label"), "console.<name>.<view>", frozenset({Role.X}))` in navigation.MENU.

How to guard it
    `@console_login_required(Role.CUSTOMS_OFFICER, ...)` (app.console.signin) under the route decorator. No roles:
    any signed-in person. A person not signed in goes to the sign-in form and comes back; another role gets the
    403 page; a pending password change goes to the change form first. Inside the view, `current_user()`,
    `current_actor()` and `current_session_id()` from app.auth.guards work as in the API's routes.
    Data-dependent checks stay in the services, as for the API.

How to write a form
    `<form method="post">` with `<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">`: every
    non-GET request to /console is refused (400 page) without a valid token (Flask-WTF's CSRFProtect, checked
    in web.py). Parse with `forms.load_form(TheApiSchema, request.form, fields=(...))`, run the service in
    `with db.transaction() as session:`, catch `DomainError` to show `forms.field_errors(error)` beside the fields
    (`{{ errors_for(errors, "field") }}` from templates/console/macros.html), and on success `flash(...)` and
    redirect (POST/redirect/GET: a reload never posts twice). A DomainError not caught renders the error page.
    Writes in the console are form posts, not API calls: no Idempotency-Key (the CSRF token and the redirect
    stand in for it).

How to translate
    Every word a person reads is marked: `{{ _("Text") }}` in templates (`_("Hello, %(name)s", name=...)` with
    placeholders), `_()` in views, `_l()` at module level (menu labels). Then `scripts/i18n.py extract`,
    `scripts/i18n.py update`, and fill the new msgstr entries in app/translations/zh/LC_MESSAGES/messages.po
    (tests/test_i18n.py fails on an empty one). The page's language is the one chosen with the switch in the
    header (kept in the cookie), else the browser's, else the user's own.

No inline `<script>` or `<style>` and no `style=` attributes: the console's policy (web.py) allows scripts and
styles from /console/static/ only. Times go through `{{ local_time(moment) }}` (Asia/Shanghai).

Tests: tests/console/ (plain HTTP with the test client) and tests/console/test_browser.py (Selenium driving
Debian's chromium through chromedriver against a live gunicorn with the demo seeded; see tests/console/conftest.py
for the `console_server` and `browser` fixtures and `sign_in()`).
"""
