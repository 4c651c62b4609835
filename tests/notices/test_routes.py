from app.notices import service
from app.notices.models import NoticeKind
from app.users.models import Role
from tests.factories import make_declaration, make_user


def test_notices_go_to_the_enterprises_active_users_of_the_role(session):
    declarant = make_user(session, role=Role.DECLARANT)
    colleague = make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise)
    make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise, is_active=False)
    make_user(session, role=Role.DECLARANT)

    made = service.notify_enterprise(
        session,
        enterprise_id=declarant.enterprise_id,
        roles=[Role.DECLARANT],
        kind=NoticeKind.DECLARATION_ACCEPTED,
        title="t",
        body="b",
    )

    assert sorted(notice.recipient_id for notice in made) == sorted([declarant.id, colleague.id])


def test_users_list_only_their_own_notices_newest_first(client, session, auth_headers):
    declarant = make_user(session, role=Role.DECLARANT)
    declaration = make_declaration(session, declarant=declarant)
    for kind in (NoticeKind.DECLARATION_ACCEPTED, NoticeKind.DECLARATION_RELEASED):
        service.notify_enterprise(
            session,
            enterprise_id=declarant.enterprise_id,
            roles=[Role.DECLARANT],
            kind=kind,
            title=kind.value,
            body="…",
            declaration_id=declaration.id,
        )
        session.info.pop("notice_recipients", None)
    session.flush()

    mine = client.get("/api/v1/notices", headers=auth_headers(declarant)).json["items"]
    theirs = client.get("/api/v1/notices", headers=auth_headers(make_user(session))).json["items"]

    assert [n["kind"] for n in mine] == ["declaration.released", "declaration.accepted"]
    assert mine[0]["link"] == f"/api/v1/declarations/{declaration.id}"
    assert theirs == []
