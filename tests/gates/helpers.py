from sqlalchemy import select

from app.notices.models import Notice, NoticeKind

ARRIVALS = "/api/v1/gate/arrivals"
PASSAGES = "/api/v1/gate/passages"
PASSES = "/api/v1/gate-passes"
WARNINGS = "/api/v1/risk/warnings"


def arrive(client, headers, gate, plate, *, direction="out", **read):
    body = {"gate_id": gate.id, "direction": direction, "plate": plate, **read}
    return client.post(ARRIVALS, json=body, headers=headers)


def weigh(client, headers, passage_id, kg):
    return client.post(f"{PASSAGES}/{passage_id}/weight", json={"weighbridge_kg": str(kg)}, headers=headers)


def decide(client, headers, passage_id, action, reason_code, note=None):
    body = {"action": action, "reason_code": reason_code, **({"note": note} if note else {})}
    return client.post(f"{PASSAGES}/{passage_id}/decision", json=body, headers=headers)


def notice_kinds(session, user):
    return [
        notice.kind
        for notice in session.scalars(select(Notice).where(Notice.recipient_id == user.id).order_by(Notice.id))
        if notice.kind in (NoticeKind.GATE_PASSED, NoticeKind.GATE_REFERRED, NoticeKind.GATE_HELD)
    ]
