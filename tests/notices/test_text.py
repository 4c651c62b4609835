"""Notice texts come from the catalogues in each reader's language, with plurals and nested labels, inside the app
or in a worker that has no app context."""

import pytest

from app.i18n import N_, N_plural
from app.notices.text import Message, with_notes
from app.users.models import Language

DEPARTED = N_plural(
    "%(num)s parcel of list %(number)s departed on %(how)s (bill %(bill_no)s).",
    "%(num)s parcels of list %(number)s departed on %(how)s (bill %(bill_no)s).",
)


@pytest.mark.parametrize(
    ("count", "english", "chinese"),
    [
        (1, "1 parcel of list L1 departed on CA123 (bill B9).", "清单 L1 的 1 件包裹已随 CA123 离境（提运单 B9）。"),
        (3, "3 parcels of list L1 departed on CA123 (bill B9).", "清单 L1 的 3 件包裹已随 CA123 离境（提运单 B9）。"),
    ],
)
def test_a_count_picks_the_plural_form_in_each_language(app, count, english, chinese):
    message = Message(DEPARTED, num=count, number="L1", how="CA123", bill_no="B9")

    with app.app_context():
        assert (message.in_language(Language.EN), message.in_language(Language.ZH)) == (english, chinese)


def test_labels_inside_a_text_follow_its_language_outside_any_app_context():
    reasons = Message(N_("; ")).join([Message(N_("no valid gate pass")), Message(N_("e-seal not read"))])
    body = with_notes(
        Message(
            N_("Vehicle %(plate)s is held at %(gate)s: %(reasons)s."), plate="渝A12345", gate="G1/L2", reasons=reasons
        ),
        "call the driver",
    )

    assert body.zh == "车辆 渝A12345 在卡口 G1/L2 转人工：无有效核放单；未读取电子关锁。 备注：call the driver"
    assert body.en == "Vehicle 渝A12345 is held at G1/L2: no valid gate pass; e-seal not read. Notes: call the driver"
