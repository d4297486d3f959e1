"""Cutting UTF-8 output on character boundaries."""


def whole_characters(data: bytes) -> bytes:
    """``data`` without a UTF-8 character cut in two at its end (the next read gets it)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:  # ASCII: nothing cut
            return data
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= needed else data[:-back]
    return data  # not UTF-8 at all: pass the bytes on as they are
