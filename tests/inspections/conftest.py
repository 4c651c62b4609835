import pytest

from app.declarations.models import DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.users.models import Role
from tests.factories import make_declaration, make_enterprise, make_inspection_site, make_slot, make_task, make_user
from tests.inspections.helpers import act, book


@pytest.fixture
def warehouse(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE], name="西永综保仓储")


@pytest.fixture
def operator(session, warehouse):
    return make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse)


@pytest.fixture
def outsider(session):
    """A declarant of another broker: sees none of our declarant's declarations."""
    return make_user(session, role=Role.DECLARANT)


@pytest.fixture
def declaration(session, declarant, warehouse):
    return make_declaration(session, declarant=declarant, warehouse=warehouse, status=DeclarationStatus.INSPECTION)


@pytest.fixture
def task(session, declaration, operator):
    # `operator` first, so the warehouse has someone to notify when the task is issued.
    return make_task(session, declaration=declaration)


@pytest.fixture
def site(session):
    return make_inspection_site(session, code="XY-CY01", name="西永查验场地一号")


@pytest.fixture
def slot(session, site):
    return make_slot(session, site=site, capacity=2)


@pytest.fixture
def in_progress(client, auth_headers, task, slot, declarant, operator, officer):
    """The task booked, its goods staged and its inspection started by `officer`."""
    assert book(client, auth_headers(declarant), task.id, slot.id).status_code == 200
    assert act(client, auth_headers(operator), task.id, "goods-ready").status_code == 200
    assert act(client, auth_headers(officer), task.id, "start").status_code == 200
    return task
