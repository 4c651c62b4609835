"""Admins work off the backlog of customs receipts that named no declaration: retry (applied once the declaration is
here) or dismiss, through the customs service's own use cases, the outcome told in a flash message."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.customs import backlog
from app.customs.models import Receipt
from app.declarations.models import DeclarationStatus
from app.users.models import Role
from tests.console.conftest import csrf_of
from tests.factories import make_declaration, make_user

BACKLOG = "/console/admin/receipts"


@pytest.fixture
def admin_client(console_client, session):
    return console_client(make_user(session, role=Role.ADMIN))


@pytest.fixture
def unknown(client, auth_headers, session):
    """Receipts sent by the customs gateway naming declarations nobody has; their stored ids, in document order."""
    headers = auth_headers(make_user(session, role=Role.CUSTOMS_GATEWAY))

    def send(*cop_nos, code=120):
        document = {
            "receipts": [
                {"cop_no": cop_no, "status_code": code, "return_time": f"202611110930{index:02d}000"}
                for index, cop_no in enumerate(cop_nos)
            ]
        }
        answer = client.post("/api/v1/customs/receipts", json=document, headers=headers)
        assert answer.status_code == 200, answer.json
        return [result["receipt_id"] for result in answer.json["results"]]

    return send


def _act(client, receipt_id, action):
    """Press a row's button as the browser would, from the backlog page, and read the page it leads back to."""
    answer = client.post(
        f"{BACKLOG}/{receipt_id}/{action}",
        data={"csrf_token": csrf_of(client.get(BACKLOG).data), "next": BACKLOG},
    )
    assert answer.headers["Location"] == BACKLOG
    return client.get(BACKLOG).data.decode()


def _rows(page):
    return [int(receipt_id) for receipt_id in re.findall(r'<tr data-receipt="(\d+)"', page)]


def test_the_backlog_shows_each_unknown_receipt_with_what_it_names(admin_client, unknown):
    [receipt_id] = unknown("NOT-YET-HERE", code=399)

    page = admin_client.get(BACKLOG).data.decode()

    row = re.search(rf'<tr data-receipt="{receipt_id}">(.*?)</tr>', page, re.S).group(1)
    assert "NOT-YET-HERE" in row
    assert "<code>399</code>" in row
    assert "JSON" in row
    assert 'data-tries="0"' in row


def test_a_retry_that_still_finds_nothing_says_so_and_is_counted(admin_client, unknown, session):
    [receipt_id] = unknown("STILL-NOBODY")

    page = _act(admin_client, receipt_id, "retry")

    assert f"Receipt {receipt_id} still names no declaration we know" in page
    assert receipt_id in _rows(page)
    assert 'data-tries="1"' in page
    assert backlog.retry_counts(session, [receipt_id]) == {receipt_id: 1}


def test_a_retried_receipt_that_now_matches_is_applied(admin_client, unknown, session, declarant):
    [receipt_id] = unknown("ARRIVED-LATER")
    declaration = make_declaration(session, declarant=declarant, cop_no="ARRIVED-LATER")

    page = _act(admin_client, receipt_id, "retry")

    assert f"Receipt {receipt_id} found its declaration and is applied." in page
    assert receipt_id not in _rows(page)
    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.ACCEPTED
    stored = session.get(Receipt, receipt_id)
    session.refresh(stored)
    assert (stored.outcome.value, stored.declaration_id) == ("applied", declaration.id)


def test_a_dismissed_receipt_leaves_the_backlog(admin_client, unknown, session):
    [receipt_id] = unknown("NOBODY-EVER")
    before = backlog.count_backlog(session)

    page = _act(admin_client, receipt_id, "dismiss")

    assert f"Receipt {receipt_id} is dismissed" in page
    assert receipt_id not in _rows(page)
    assert backlog.count_backlog(session) == before - 1
    actions = select(AuditEvent.action).where(
        AuditEvent.target_type == "customs_receipts", AuditEvent.target_id == str(receipt_id)
    )
    assert "receipt.dismissed" in session.scalars(actions).all()


def test_a_receipt_dismissed_already_is_refused_in_a_message(admin_client, unknown):
    [receipt_id] = unknown("TWICE")
    _act(admin_client, receipt_id, "dismiss")

    page = _act(admin_client, receipt_id, "retry")

    assert re.search(rf'<p class="flash error" role="alert">Receipt {receipt_id} [^<]*nothing to retry', page)


def test_the_backlog_pages_on_past_the_first_page(admin_client, unknown):
    sent = unknown(*(f"PAGER-{serial:02d}" for serial in range(26)))

    first = admin_client.get(BACKLOG).data.decode()
    older = re.search(r'href="(/console/admin/receipts\?cursor=[^"]+)"', first).group(1)
    second = admin_client.get(older).data.decode()

    assert len(_rows(first)) == 25
    assert min(sent) in _rows(second)
    assert min(sent) not in _rows(first)


def test_the_admins_home_counts_the_backlog(admin_client, unknown, session):
    unknown("HOME-1", "HOME-2")

    home = admin_client.get("/console/").data.decode()

    count = re.search(r'data-waiting="console.receipts.index"[^>]*>(\d+)<', home).group(1)
    assert int(count) == backlog.count_backlog(session) >= 2


def test_an_officers_home_counts_nothing(console_client, session, unknown):
    unknown("NOT-FOR-OFFICERS")

    home = console_client(make_user(session, role=Role.CUSTOMS_OFFICER)).get("/console/").data.decode()

    assert "data-waiting" not in home


@pytest.mark.parametrize("role", [Role.CUSTOMS_OFFICER, Role.DECLARANT])
def test_other_roles_may_not_see_retry_or_dismiss(console_client, session, unknown, role):
    [receipt_id] = unknown("ADMINS-ONLY")
    user = make_user(session, role=role)
    client = console_client(user)
    token = csrf_of(client.get("/console/").data)

    page = client.get(BACKLOG)
    dismissed = client.post(f"{BACKLOG}/{receipt_id}/dismiss", data={"csrf_token": token})
    retried = client.post(f"{BACKLOG}/{receipt_id}/retry", data={"csrf_token": token})

    assert (page.status_code, dismissed.status_code, retried.status_code) == (403, 403, 403)
    assert session.get(Receipt, receipt_id).resolved_at is None


def test_a_dismissal_without_its_csrf_token_changes_nothing(admin_client, unknown, session):
    [receipt_id] = unknown("FORGED")

    answer = admin_client.post(f"{BACKLOG}/{receipt_id}/dismiss", data={"next": BACKLOG})

    assert answer.status_code == 400
    assert session.get(Receipt, receipt_id).resolved_at is None
