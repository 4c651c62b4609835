"""A bonded warehouse with a registered product and a declaration of it, ready for trace codes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from app.declarations import status as declaration_status
from app.declarations.models import Declaration, DeclarationStatus
from app.goods.models import Product
from app.users.models import Role, User
from tests.factories import make_declaration, make_user

# Published GS1 schema and examples, kept with the tests (tests/reference/README.md).
REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "gs1"
GTIN = "04006381333931"
OTHER_GTIN = "09506000134352"


@dataclass
class Setup:
    operator: User
    officer: User
    declaration: Declaration
    product: Product


def make_setup(session: Session, *, qty: int = 10, status: DeclarationStatus = DeclarationStatus.AUDITED) -> Setup:
    operator = make_user(session, role=Role.WAREHOUSE_OPERATOR)
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)
    product = Product(
        gtin=GTIN,
        name_zh="婴儿配方奶粉 800g",
        name_en="Infant formula 800 g",
        brand="Milupa",
        specification="800g/罐",
        origin_country="DE",
        hs_code="1901101000",
        unit="122",
        enterprise_id=operator.enterprise_id,
    )
    session.add(product)
    declaration = make_declaration(session, warehouse=operator.enterprise, status=status)
    declaration.invt_no = f"80122026I{declaration.id:09d}"
    declaration.lines[0].qty = Decimal(qty)
    session.flush()
    declaration_status.record_event(session, declaration, step="audited", title="审结")
    session.flush()
    return Setup(operator=operator, officer=officer, declaration=declaration, product=product)


def issue(client, headers, declaration_id: int, quantity: int, **extra):
    return client.post(
        "/api/v1/trace-codes",
        json={"declaration_id": declaration_id, "gnum": 1, "quantity": quantity, **extra},
        headers=headers,
    )


def set_status(client, headers, status: str, **target):
    return client.post("/api/v1/trace-codes/status", json={"status": status, **target}, headers=headers)


def release(client, headers, declaration_id: int):
    response = client.post(f"/api/v1/declarations/{declaration_id}/release", json={}, headers=headers)
    assert response.status_code == 200, response.json
    return response


def follow(client, response, **kwargs):
    """Follow the resolver's redirect on the trace host (absolute, which the test client will not follow itself)."""
    location = urlsplit(response.headers["Location"])
    return client.get(location.path + (f"?{location.query}" if location.query else ""), **kwargs)
