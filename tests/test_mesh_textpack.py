import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.mesh.textpack import codebook, packed_size, read_text, write_text
from kit.mesh.wire import Malformed, Reader

# Any code point, lone surrogates included (hypothesis' default text() leaves them out).
any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=200)
french_text = st.text(st.sampled_from("abcdeéèêàçôûù' ,.-ABCÉ0123456789 routeeaucoupée"), max_size=200)


def roundtrip(text: str) -> str:
    out = bytearray()
    write_text(out, text)
    rd = Reader(bytes(out))
    back = read_text(rd)
    assert rd.remaining == 0
    return back


@given(any_text)
def test_any_unicode_roundtrips(text):
    assert roundtrip(text) == text


@given(french_text)
def test_never_longer_than_utf8_plus_header(text):
    assert packed_size(text) <= len(text.encode("utf-8")) + 2


# Held-out messages: not in the codebook's corpus.
TYPICAL = [
    "Salle des fêtes ouverte, 12 personnes, besoin d'eau potable et de couvertures.",
    "Route du Lac inondée au niveau du pont, déviation par la D14.",
    "Je suis en sécurité chez ma fille à Nîmes, tout va bien.",
    "Plus de courant rue Pasteur depuis ce matin, personnes âgées sans chauffage.",
]


@pytest.mark.parametrize("text", TYPICAL)
def test_typical_french_is_less_than_half_of_utf8(text):
    assert packed_size(text) < 0.5 * len(text.encode("utf-8"))


def test_foreign_script_falls_back_to_utf8():
    text = "Привет, мы в безопасности"
    assert packed_size(text) == len(text.encode("utf-8")) + 1


def test_codebook_is_frozen():
    # The code is the wire format: changing codebook_v1 breaks every other kit. If this
    # fails on purpose, ship a codebook_v2 and bump codec.VERSION instead.
    cb = codebook()
    table = "|".join(f"{s}:{cb.lengths[i]}" for i, s in enumerate(cb.symbols))
    assert hashlib.sha256(table.encode("utf-8", "surrogatepass")).hexdigest()[:16] == FINGERPRINT


FINGERPRINT = "3ec35e8c301a5585"


@pytest.mark.parametrize(
    "data, reason",
    [
        # a whole byte of 1s after the last code: padding is at most 7 bits
        (bytes([len(codebook().pack("e")) + 1 << 1]) + codebook().pack("e") + b"\xff", "bad_text_padding"),
        (bytes([0x05, 0xFF, 0xFE]), "bad_utf8"),
        (bytes([0x08, 0x41]), "truncated"),
    ],
)
def test_malformed_texts_are_refused(data, reason):
    with pytest.raises(Malformed) as err:
        read_text(Reader(data))
    assert err.value.reason == reason


@settings(max_examples=500)
@given(st.binary(max_size=60))
def test_arbitrary_packed_bytes_decode_or_refuse(data):
    try:
        text = codebook().unpack(data)
    except Malformed:
        return
    assert isinstance(text, str)
