"""shell_service.utf8: output cut on character boundaries decodes as the whole does."""

import itertools

from hypothesis import example, given, settings
from hypothesis import strategies as st

from shell_service.utf8 import decode, incomplete_tail, whole_characters

#: Whole characters of each length, and bytes that are never (or not yet) valid.
PIECES = [
    b"a", b"\n", b"\x00", "é".encode(), "€".encode(), "😀".encode(), "\U0010ffff".encode(),
    b"\xe9", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80", b"\xbf", b"\xff", b"\xc0\xaf",
    b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xed\xa0", b"\xf4\x90\x80\x80", b"\xf4\x90", b"\xf5",
]  # fmt: skip
#: Random bytes, and random runs of the pieces above (mostly UTF-8, as real output is).
OUTPUT = st.binary(max_size=64) | st.lists(st.sampled_from(PIECES), max_size=24).map(b"".join)


def can_become_one_character(tail: bytes) -> bool:
    """Some 1-3 continuation bytes after ``tail`` make it one valid character."""
    for count in range(1, 4):
        for rest in itertools.product([0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF], repeat=count):
            try:
                if len((tail + bytes(rest)).decode("utf-8")) == 1:
                    return True
            except UnicodeDecodeError:
                pass
    return False


@settings(max_examples=500, deadline=None)
@given(OUTPUT)
@example(b"prix: 5\xe9")
@example("a😀b".encode())
def test_cutting_anywhere_then_decoding_the_pieces_gives_the_whole(data):
    for cut in range(len(data) + 1):
        head = whole_characters(data[:cut])
        assert data[:cut].startswith(head)
        assert cut - len(head) <= 3
        assert decode(head) + decode(data[len(head) :]) == decode(data), (data, cut)


@settings(max_examples=500, deadline=None)
@given(OUTPUT, st.integers(min_value=4, max_value=9))
def test_reading_in_chunks_as_follow_does_gives_the_whole(data, chunk):
    """Reads of ``chunk`` bytes (at least 4, a character's most; log pages are
    64 KiB), each cut with whole_characters; what is held back is read again
    with the next chunk; the read that reaches the end hands out the rest."""
    offset, text = 0, ""
    while offset < len(data):
        piece = data[offset : offset + chunk]
        at_the_end = offset + len(piece) == len(data)
        handed = piece if at_the_end else whole_characters(piece)
        assert handed, (data, offset)
        text += decode(handed)
        offset += len(handed)
    assert text == decode(data)


@settings(max_examples=500, deadline=None)
@given(OUTPUT)
def test_only_the_start_of_a_character_that_can_still_complete_is_held_back(data):
    held = incomplete_tail(data)
    assert 0 <= held <= 3
    if held:
        assert can_become_one_character(data[-held:]), data
    else:
        # Nothing held back: no suffix is the start of a character still to complete.
        for back in range(1, min(3, len(data)) + 1):
            tail = data[-back:]
            if all(0x80 <= b < 0xC0 for b in tail[1:]):
                assert not can_become_one_character(tail), data


def test_every_kind_of_cut_character_is_held_back_and_nothing_else():
    for char in ("é", "€", "😀", "\U0010ffff", "\u0800", "\ud7ff"):
        encoded = char.encode()
        for cut in range(1, len(encoded)):
            assert whole_characters(b"ok" + encoded[:cut]) == b"ok", (char, cut)
        assert whole_characters(b"ok" + encoded) == b"ok" + encoded
    # Never valid however it goes on: handed out at once (it decodes to U+FFFD anyway).
    never = (b"\xff", b"\xc0", b"\xc1", b"\xf5", b"\x80", b"\xe0\x80", b"\xed\xa0", b"\xf4\x90")
    for invalid in never:
        assert whole_characters(b"ok" + invalid) == b"ok" + invalid, invalid
    assert whole_characters(b"") == b""
