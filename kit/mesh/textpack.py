"""Compact, lossless text coding for LoRa: shared codebook + static Huffman.

A text is cut into symbols of codebook v1 (single characters, frequent French words and
phrases, a CAPITALISE prefix for a word, an ESCAPE for any other code point) by a shortest-
bit-length dynamic programme, then written with a canonical Huffman code weighted on the
codebook's corpus. Generic compressors lose on texts this short (their headers and empty dictionaries cost more
than they save: github.com/Jorropo/meshtastic-compression-contest): a static, shared model
costs nothing per message.

On the wire a text is `uvarint(nbytes << 1 | raw)` then nbytes: Huffman bits padded with 1s,
or, flag raw, plain UTF-8 when that is not longer (Cyrillic, Arabic, emoji-heavy texts).
The padding is unambiguous because the all-ones code is the longest one (> 7 bits).
"""
from __future__ import annotations

import heapq
from functools import lru_cache

from kit.mesh import codebook_v1
from kit.mesh.wire import Malformed, Reader, write_uvarint

CAPITALISE = "\x00CAP"  # sentinels: never produced by slicing a text (multi-char, NUL-led)
ESCAPE = "\x00ESC"
CODEPOINT_BITS = 21
MAX_DECODED_CHARS = 600  # = records.MAX_TEXT_CHARS; stops a crafted frame from ballooning


class Codebook:
    def __init__(self, alphabet: str, words: tuple[str, ...], corpus: tuple[str, ...]):
        singles = list(dict.fromkeys(alphabet))
        multi = [w for w in dict.fromkeys(words) if len(w) > 1]
        self.symbols: list[str] = singles + multi + [CAPITALISE, ESCAPE]
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.words_by_first: dict[str, list[str]] = {}
        for w in multi:
            self.words_by_first.setdefault(w[0], []).append(w)
        self.lengths = [8] * len(self.symbols)
        # A few rounds: parse the corpus with the current code, re-weight by use.
        for _ in range(3):
            counts = [1] * len(self.symbols)
            for text in corpus:
                for sym in self._parse(text):
                    if isinstance(sym, str):
                        counts[self.index[sym]] += 4
            self.lengths = _huffman_lengths(counts)
        self.codes = _canonical_codes(self.lengths)
        self._build_decoder()
        if self.max_length < 8:
            # The 1-bit padding is only unambiguous if no code of 7 bits or fewer is all 1s.
            raise ValueError("codebook too small for 1-padding")

    # --- encoding -----------------------------------------------------------------

    def _parse(self, text: str) -> list[str | int]:
        """Cheapest symbol sequence for `text` under the current code lengths.

        An ESCAPE is followed by the escaped code point as an int.
        """
        n = len(text)
        best = [0] * (n + 1)
        choice: list[tuple[str, ...]] = [()] * (n + 1)
        esc_cost = self.lengths[self.index[ESCAPE]] + CODEPOINT_BITS
        cap_cost = self.lengths[self.index[CAPITALISE]]
        for i in range(n - 1, -1, -1):
            ch = text[i]
            if ch in self.index:
                cost, pick = self.lengths[self.index[ch]] + best[i + 1], (ch,)
            else:
                cost, pick = esc_cost + best[i + 1], (ESCAPE, ch)
            for w in self.words_by_first.get(ch, ()):
                if text.startswith(w, i):
                    c = self.lengths[self.index[w]] + best[i + len(w)]
                    if c < cost:
                        cost, pick = c, (w,)
            lower = ch.lower()
            if lower != ch and len(lower) == 1:
                for w in self.words_by_first.get(lower, ()):
                    if w[0].upper() == ch and text.startswith(w[1:], i + 1):
                        c = cap_cost + self.lengths[self.index[w]] + best[i + len(w)]
                        if c < cost:
                            cost, pick = c, (CAPITALISE, w)
            best[i], choice[i] = cost, pick
        out: list[str | int] = []
        i = 0
        while i < n:
            pick = choice[i]
            if pick[0] == ESCAPE:
                out += [ESCAPE, ord(text[i])]
                i += 1
            else:
                out += pick
                i += len(pick[-1])
        return out

    def pack(self, text: str) -> bytes:
        acc, nbits = 0, 0
        for sym in self._parse(text):
            if isinstance(sym, int):  # the code point after an ESCAPE
                code, length = sym, CODEPOINT_BITS
            else:
                code, length = self.codes[self.index[sym]]
            acc, nbits = (acc << length) | code, nbits + length
        pad = -nbits % 8
        acc, nbits = (acc << pad) | ((1 << pad) - 1), nbits + pad
        return acc.to_bytes(nbits // 8, "big")

    # --- decoding -----------------------------------------------------------------

    def _build_decoder(self) -> None:
        order = sorted(range(len(self.symbols)), key=lambda s: (self.lengths[s], s))
        self.max_length = max(self.lengths)
        self._sorted = [self.symbols[s] for s in order]
        self._first_code: dict[int, int] = {}
        self._first_index: dict[int, int] = {}
        self._count: dict[int, int] = {}
        for pos, s in enumerate(order):
            length = self.lengths[s]
            if length not in self._count:
                self._first_code[length] = self.codes[s][0]
                self._first_index[length] = pos
                self._count[length] = 0
            self._count[length] += 1

    def unpack(self, data: bytes) -> str:
        total = len(data) * 8
        value = int.from_bytes(data, "big")
        pos = 0  # bits consumed

        def read(nbits: int) -> int:
            nonlocal pos
            if pos + nbits > total:
                raise Malformed("truncated_text")
            pos += nbits
            return (value >> (total - pos)) & ((1 << nbits) - 1)

        out: list[str] = []
        size = 0
        capitalise_next = False
        while total - pos > 0:
            start = pos
            sym = self._read_symbol(read)
            if sym is None:  # the bits ran out inside a code: must be the 1-padding
                pad_bits = total - start
                if pad_bits >= 8 or value & ((1 << pad_bits) - 1) != (1 << pad_bits) - 1:
                    raise Malformed("bad_text_padding")
                break
            if capitalise_next:
                if len(sym) < 2 or sym in (CAPITALISE, ESCAPE):
                    raise Malformed("bad_capitalise")
                sym = sym[0].upper() + sym[1:]
                capitalise_next = False
            elif sym == CAPITALISE:
                capitalise_next = True
                continue
            elif sym == ESCAPE:
                cp = read(CODEPOINT_BITS)
                if cp > 0x10FFFF:
                    raise Malformed("bad_codepoint")
                sym = chr(cp)
            out.append(sym)
            size += len(sym)
            if size > MAX_DECODED_CHARS:
                raise Malformed("text_too_long")
        if capitalise_next:
            raise Malformed("bad_capitalise")
        return "".join(out)

    def _read_symbol(self, read) -> str | None:
        """Next symbol, or None when the remaining bits end before a code completes."""
        code = 0
        for length in range(1, self.max_length + 1):
            try:
                bit = read(1)
            except Malformed:
                return None
            code = (code << 1) | bit
            count = self._count.get(length)
            if count and self._first_code[length] <= code < self._first_code[length] + count:
                return self._sorted[self._first_index[length] + code - self._first_code[length]]
        raise Malformed("bad_text_code")


def _huffman_lengths(weights: list[int]) -> list[int]:
    """Code length per symbol; ties broken by symbol index so every kit builds the same code."""
    heap = [(w, i, (i,)) for i, w in enumerate(weights)]
    heapq.heapify(heap)
    lengths = [0] * len(weights)
    tiebreak = len(weights)
    while len(heap) > 1:
        w1, _, s1 = heapq.heappop(heap)
        w2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (w1 + w2, tiebreak, s1 + s2))
        tiebreak += 1
    return lengths


def _canonical_codes(lengths: list[int]) -> list[tuple[int, int]]:
    codes: list[tuple[int, int]] = [(0, 0)] * len(lengths)
    code, prev_len = 0, 0
    for s in sorted(range(len(lengths)), key=lambda s: (lengths[s], s)):
        code <<= lengths[s] - prev_len
        codes[s] = (code, lengths[s])
        prev_len = lengths[s]
        code += 1
    return codes


@lru_cache(maxsize=1)
def codebook() -> Codebook:
    return Codebook(codebook_v1.ALPHABET, codebook_v1.WORDS, codebook_v1.CORPUS)


def write_text(out: bytearray, text: str) -> None:
    packed = codebook().pack(text)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: only the packed form can carry them
        raw = None
    if raw is not None and len(raw) <= len(packed):
        write_uvarint(out, len(raw) << 1 | 1)
        out += raw
    else:
        write_uvarint(out, len(packed) << 1)
        out += packed


def read_text(reader: Reader) -> str:
    header = reader.uvarint()
    data = reader.take(header >> 1)
    if header & 1:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("bad_utf8") from None
        if len(text) > MAX_DECODED_CHARS:
            raise Malformed("text_too_long")
        return text
    return codebook().unpack(data)


def packed_size(text: str) -> int:
    out = bytearray()
    write_text(out, text)
    return len(out)
