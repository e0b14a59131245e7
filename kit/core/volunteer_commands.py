"""Short French text commands that volunteers send from a stock Meshtastic handheld.

Pure parsing (no I/O): text in, a command or an error out. Grammar (case and accents
do not matter, `#` starts a command):

    #aide                               the list of commands
    #site <lieu> <état> [n/cap] [besoin...]   e.g. #site gymnase ouvert 40/120 eau nourriture
    #besoin <texte>                     a need on the board of every kit
    #offre <texte>                      an offer
    #rapport <lieu> : <texte>           a field report (what you see)
    #sauf <prénom nom> [: note]         someone you met is safe ("Je suis en sécurité")

états: fermé, préparation, ouvert, complet, évacué.
besoins: eau, nourriture, soins, électricité, chauffage, couchage, personnel, transport.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kit.mesh import records as r
from kit.mesh.records import Needs, SiteState
from kit.storage.names import name_key

HELP = ("Kit: #site <lieu> <ouvert|complet|fermé|préparation|évacué> [40/120] [eau nourriture soins] · "
        "#besoin <texte> · #offre <texte> · #rapport <lieu> : <texte> · #sauf <prénom nom> [: note]")

STATES = {
    "ferme": SiteState.FERME, "fermee": SiteState.FERME,
    "preparation": SiteState.EN_PREPARATION, "en preparation": SiteState.EN_PREPARATION,
    "prepa": SiteState.EN_PREPARATION,
    "ouvert": SiteState.OUVERT, "ouverte": SiteState.OUVERT,
    "complet": SiteState.COMPLET, "complete": SiteState.COMPLET, "plein": SiteState.COMPLET,
    "evacue": SiteState.EVACUE, "evacuee": SiteState.EVACUE,
}
NEEDS = {
    "eau": Needs.WATER, "nourriture": Needs.FOOD, "repas": Needs.FOOD, "soins": Needs.MEDICAL,
    "medical": Needs.MEDICAL, "electricite": Needs.POWER, "courant": Needs.POWER,
    "chauffage": Needs.HEATING, "couchage": Needs.BEDDING, "lits": Needs.BEDDING,
    "personnel": Needs.STAFF, "benevoles": Needs.STAFF, "transport": Needs.TRANSPORT,
}
COUNT = re.compile(r"^(\d{1,5})(?:/(\d{1,5}))?$")
MAX_TEXT = 200


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class SiteReport:
    site_words: tuple[str, ...]   # folded words naming the site, resolved by the service
    state: SiteState
    present: int | None
    capacity: int | None
    needs: Needs


@dataclass(frozen=True)
class Post:
    kind: str   # need | offer
    text: str


@dataclass(frozen=True)
class Report:
    location: str
    text: str


@dataclass(frozen=True)
class Safe:
    name: str
    note: str


@dataclass(frozen=True)
class Error:
    message: str   # sent back to the volunteer, in French


Command = Help | SiteReport | Post | Report | Safe | Error


def is_command(text: str) -> bool:
    return text.lstrip().startswith("#")


def parse(text: str) -> Command:
    head, _, rest = text.strip().partition(" ")
    verb = name_key(head.lstrip("#"))
    rest = rest.strip()
    if verb in ("aide", "help", "") :
        return Help()
    if verb == "site":
        return _site(rest)
    if verb in ("besoin", "offre"):
        if not rest:
            return Error(f"#{verb} : écrivez ce qu'il faut, ex. #{verb} couvertures au gymnase")
        return Post("need" if verb == "besoin" else "offer", rest[:MAX_TEXT])
    if verb == "rapport":
        location, sep, what = rest.partition(":")
        if not sep or not location.strip() or not what.strip():
            return Error("#rapport <lieu> : <ce que vous voyez>, ex. #rapport pont de la gare : eau sur la route")
        return Report(location.strip()[:80], what.strip()[:MAX_TEXT])
    if verb == "sauf":
        name, _, note = rest.partition(":")
        if len(name_key(name).split()) < 2:
            return Error("#sauf <prénom nom> [: note], ex. #sauf Marie Dupont : au gymnase")
        return Safe(name.strip()[:80], note.strip()[:140])
    return Error(f"Commande inconnue #{verb}. Envoyez #aide")


def _site(rest: str) -> Command:
    words = rest.split()
    folded = [name_key(w) for w in words]
    state_at = next((i for i, w in enumerate(folded) if w in STATES), None)
    if state_at is None or state_at == 0:
        return Error("#site <lieu> <ouvert|complet|fermé|préparation|évacué> [40/120] [eau…]")
    present = capacity = None
    needs = Needs.NONE
    for word, key in zip(words[state_at + 1:], folded[state_at + 1:]):
        match = COUNT.match(word)
        if match:
            present = int(match[1])
            capacity = int(match[2]) if match[2] else None
        elif key.split(" ")[0] in NEEDS:
            needs |= NEEDS[key.split(" ")[0]]
        else:
            return Error(f"#site : je ne comprends pas « {word} ». Envoyez #aide")
    return SiteReport(tuple(t for k in folded[:state_at] for t in k.split()), STATES[folded[state_at]],
                      present, capacity, needs)


@dataclass(frozen=True)
class Planned:
    """What a command makes: a record for every kit, and the answer once it is made."""
    record_type: type
    fields: dict
    reply: str


def plan(command: Command, sender_name: str, sites: list[tuple[int, str]]) -> Planned | str:
    """The record a command makes, or the answer alone (help, errors). `sites` are the
    kit's (position, name) in order; the sender's node name signs posts and reports."""
    if isinstance(command, Error):
        return command.message
    if isinstance(command, SiteReport):
        site = find_site(command.site_words, sites)
        if isinstance(site, str):
            return site
        position, site_name = site
        counts = f" {command.present}/{command.capacity or '?'}" if command.present is not None else ""
        return Planned(r.SiteStatus, dict(site=position, status=command.state, present=command.present,
                                          capacity=command.capacity, needs=command.needs),
                       f"OK {site_name} : {command.state.name.lower().replace('_', ' ')}{counts}")
    if isinstance(command, Post):
        return Planned({"need": r.Need, "offer": r.Offer}[command.kind], dict(text=command.text, name=sender_name),
                       "OK, publié sur tous les kits.")
    if isinstance(command, Report):
        return Planned(r.FieldReport, dict(location=command.location, incident=r.IncidentType.OTHER,
                                           severity=r.Severity.UNKNOWN, text=f"{command.text} — {sender_name}"),
                       "OK, rapport transmis à la cellule de crise.")
    if isinstance(command, Safe):
        return Planned(r.Checkin, dict(name=command.name, note=command.note),
                       f"OK, {command.name} est noté(e) en sécurité.")
    return HELP


def find_site(words: tuple[str, ...], sites: list[tuple[int, str]]) -> tuple[int, str] | str:
    """The one site whose name holds every word (or a word's start); else what to answer."""
    def matches(name: str) -> bool:
        parts = name_key(name).split()
        return all(w in parts or any(part.startswith(w) for part in parts) for w in words)

    found = [(p, n) for p, n in sites if matches(n)]
    if len(found) == 1:
        return found[0]
    if not found:
        return "Lieu inconnu. Lieux : " + ", ".join(n for _, n in sites[:6])
    return "Plusieurs lieux : " + ", ".join(n for _, n in found[:4]) + ". Précisez."
