"""A rule's error is said in the language of whoever reads it: the crisis cell's page in the
visitor's language, the CLI in English — never half one, half the other."""
import subprocess
import sys

from kit.core.messages import Message, _, message_of
from kit.exchange import tabular
from kit.web.i18n import tr

BAD_CSV = "slug,name_fr\nmairie,Mairie\n".encode()  # the contacts file without its required columns


def test_a_message_renders_nested_values_in_one_language():
    inner = _("missing column")
    outer = _("row %(row)d, %(field)s: %(problem)s", row=1, field="phone", problem=inner)
    assert str(outer) == "row 1, phone: missing column"
    shout = {"missing column": "MISSING", "row %(row)d, %(field)s: %(problem)s": "ROW %(row)d %(field)s %(problem)s"}
    assert outer.render(lambda msgid: shout.get(msgid, msgid)) == "ROW 1 phone MISSING"
    assert message_of(ValueError(inner)) == Message("missing column")


def test_the_web_says_a_rule_error_in_french(app):
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        try:
            tabular.parse_csv(app.extensions["kit"].db(), "contacts", BAD_CSV)
        except tabular.ImportError_ as exc:
            said = [tr(e.message) for e in exc.errors]
        assert said and all("colonne manquante" in line and "missing" not in line for line in said), said


def test_the_cli_says_it_in_english_only(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(BAD_CSV)
    run = subprocess.run([sys.executable, "-m", "kit", "csv", "import", "contacts", str(path),
                          "--data", str(tmp_path / "kit")], capture_output=True, text=True)
    assert run.returncode == 2
    assert "missing column" in run.stderr and "Nothing was imported." in run.stderr
    assert "colonne" not in run.stderr and "ligne" not in run.stderr, run.stderr
