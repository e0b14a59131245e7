from hypothesis import given
from hypothesis import strategies as st

from kit.exchange import vcard


def unfold(text: str) -> str:
    return text.replace("\r\n ", "")


def test_card_has_required_fields_and_escapes():
    text = vcard.card(uid="k-1", name="Mairie; standard, accueil", phone="01 99 00 12 34",
                      role="Accueil\nsoir", revised="2026-10-01")
    lines = unfold(text).split("\r\n")
    assert lines[:2] == ["BEGIN:VCARD", "VERSION:3.0"]
    assert "N:Mairie\\; standard\\, accueil;;;;" in lines
    assert "FN:Mairie\\; standard\\, accueil" in lines
    assert "TITLE:Accueil\\nsoir" in lines
    assert "TEL;TYPE=WORK,VOICE:01 99 00 12 34" in lines
    assert lines[-2:] == ["END:VCARD", ""]


def test_sms_only_number_is_typed_for_messages():
    assert "TEL;TYPE=CELL,MSG:114" in vcard.card(uid="u", name="114", phone="114", sms_only=True)


@given(st.text(min_size=0, max_size=300))
def test_folding_keeps_lines_short_and_is_reversible(value):
    line = "NOTE:" + vcard.escape(value)
    folded = vcard.fold(line)
    assert all(len(part.encode("utf-8")) <= 75 for part in folded.split("\r\n"))
    assert unfold(folded) == line
