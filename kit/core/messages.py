"""Sentences for people, in no language yet: each front end says them in its own.

The rules (core, exchange) raise errors whose argument is a `Message`: an English msgid
and its values. `str()` gives the English text (the CLI, the logs); the web renders it
through its gettext catalog in the visitor's language (`kit.web.i18n.tr`). So no rule
needs a request, and the CLI never prints half French, half English.
"""
from __future__ import annotations


class Message:
    __slots__ = ("msgid", "values")

    def __init__(self, msgid: str, **values):
        self.msgid = msgid
        self.values = values

    def render(self, translate=None) -> str:
        """The sentence in the language of `translate` (a gettext function), English without."""
        values = {k: v.render(translate) if isinstance(v, Message) else v for k, v in self.values.items()}
        text = translate(self.msgid) if translate else self.msgid
        return text % values if values else text

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{self.values!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Message) and (self.msgid, self.values) == (other.msgid, other.values)

    __hash__ = None


# `_("text %(name)s", name=...)` in the rules marks the msgid for the catalog (babel's `_`
# keyword) and makes a Message; it translates nothing.
_ = Message


def message_of(value) -> Message | str:
    """The Message an error carries (its single argument), else the value itself."""
    if isinstance(value, BaseException) and len(value.args) == 1:
        return value.args[0]
    return value
