"""Cutting a job's output on UTF-8 character boundaries.

A job writes bytes; the API hands them out as text, in pieces: the copy kept in
the job row (the first ``jobs.max_output_bytes``), log pages (64 KiB) and the
chunks a follow streams. A piece that ended in the middle of a character would
decode to U+FFFD where the job wrote a valid character. Every place that cuts
output cuts with ``whole_characters``, so what it hands out is a true prefix
of what the whole output decodes to (invalid bytes anywhere still decode to
U+FFFD, exactly as in the whole).

The rule is Unicode's (The Unicode Standard, 3.9, table 3-7, "Well-Formed
UTF-8 Byte Sequences"), which Python's UTF-8 decoder follows: a lead byte
C2-DF starts 2 bytes, E0-EF 3, F0-F4 4, and the byte after E0, ED, F0 and F4
has a narrower range (no overlong forms, surrogates, or code points past
U+10FFFF). Bytes 80-BF are continuations; C0, C1 and F5-FF never start a
character.
"""

#: Lead byte -> (the whole character's length, the range of its second byte).
_LEADS: dict[int, tuple[int, range]] = {
    **{lead: (2, range(0x80, 0xC0)) for lead in range(0xC2, 0xE0)},
    **{lead: (3, range(0x80, 0xC0)) for lead in range(0xE1, 0xF0)},
    0xE0: (3, range(0xA0, 0xC0)),
    0xED: (3, range(0x80, 0xA0)),
    **{lead: (4, range(0x80, 0xC0)) for lead in range(0xF1, 0xF4)},
    0xF0: (4, range(0x90, 0xC0)),
    0xF4: (4, range(0x80, 0x90)),
}


def incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` (0 to 3) are the start of a UTF-8
    character whose remaining bytes have not come yet.

    Those bytes could still become a valid character; anything else at the end
    (ASCII, a whole character, bytes that can never be valid) is complete as
    far as decoding goes: more bytes cannot change how it decodes."""
    end = len(data)
    for back in range(1, min(3, end) + 1):
        byte = data[end - back]
        if 0x80 <= byte < 0xC0:
            continue  # a continuation byte: its lead is further back
        if byte not in _LEADS:
            return 0  # ASCII, or a byte that never starts a character
        length, second = _LEADS[byte]
        if back >= length:
            return 0  # the character is whole
        if back >= 2 and data[end - back + 1] not in second:
            return 0  # not a valid start: decoding has replaced it already
        return back
    return 0


def whole_characters(data: bytes) -> bytes:
    """``data`` without the start of a character cut off at its end: the bytes to
    hand out now, when more of the output may follow ``data``.

    Returns a prefix of ``data``, at most 3 bytes shorter. Decoding it and,
    separately, the bytes after it (both with ``errors="replace"``) gives the
    same text as decoding the whole at once."""
    return data[: len(data) - incomplete_tail(data)]


def decode(data: bytes) -> str:
    """``data`` as text, invalid bytes replaced with U+FFFD (one per maximal
    invalid subpart, as Python's decoder does)."""
    return data.decode("utf-8", "replace")
