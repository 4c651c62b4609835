import pytest

from app.enterprises.models import EnterpriseKind
from app.users.models import Role
from tests.factories import make_declaration, make_enterprise, make_export_list, make_user


@pytest.fixture
def warehouse(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE], name="西永综保仓储")


@pytest.fixture
def operator(session, warehouse):
    return make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse)


@pytest.fixture
def colleague(session, declarant):
    """Another declarant of the same broker."""
    return make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise)


@pytest.fixture
def outsider(session):
    """A declarant of another broker: sees none of our declarant's lists."""
    return make_user(session, role=Role.DECLARANT)


@pytest.fixture
def declaration(session, declarant, warehouse):
    return make_declaration(session, declarant=declarant, warehouse=warehouse)


@pytest.fixture
def export_list(session, declarant, warehouse):
    return make_export_list(session, declarant=declarant, warehouse=warehouse, parcels=1)
