"""Layouts and the irregular piece splitter (framing.py)."""

import json

import pytest

from simulator.elements import SessionInfo, normal_elements, split_text
from simulator.framing import OPEN, cut_classes, element_units, split_pieces
from simulator.replies import reply_for
from tests.simulator.simkit import splits_a_character

INFO = SessionInfo("collections/default_collection/engines/agentspace-engine/sessions/1",
                   "2", "3")


def elements_for(query="Ünïcode \"query\" \\ 你好"):
    return normal_elements(reply_for(query, ["first"], 12), INFO)


@pytest.mark.parametrize("layout", ["lines", "pretty", "crlf"])
def test_pieces_rejoin_to_valid_json(layout):
    elements = elements_for()
    units = element_units(elements, layout, close_array=True)
    pieces = [OPEN] + [p for i, u in enumerate(units) for p in split_pieces(u, f"q\x00{i}")]
    assert json.loads(b"".join(pieces)) == elements
    assert len(pieces) > 2 * len(units)  # elements really are cut up


def test_cuts_fall_inside_characters_escapes_and_strings():
    unit = element_units(elements_for(), "lines", close_array=False)[0]  # a thought
    multibyte, escape, in_string = cut_classes(unit)
    assert multibyte and escape and in_string
    pieces = split_pieces(unit, "seed")
    cuts = set()
    position = 0
    for piece in pieces[:-1]:
        position += len(piece)
        cuts.add(position)
    assert cuts & set(multibyte), "one cut splits a multi-byte character"
    assert cuts & set(escape), "one cut falls between a backslash and what it escapes"
    assert cuts & set(in_string)
    assert any(splits_a_character(p) for p in pieces)


def test_every_element_gets_a_cut_of_each_class_it_has():
    for index, unit in enumerate(element_units(elements_for(), "pretty", close_array=True)):
        pieces = split_pieces(unit, f"query\x00{index}")
        cuts = {sum(len(p) for p in pieces[:n]) for n in range(1, len(pieces))}
        for positions in cut_classes(unit):
            assert not positions or cuts & set(positions)


def test_cut_classes_are_what_they_say():
    data = '{"a":"é\\n"}'.encode()
    multibyte, escape, in_string = cut_classes(data)
    assert [data[:i][-1:] for i in escape] == [b"\\"]
    assert all(0x80 <= data[i] < 0xC0 for i in multibyte)
    assert 2 in in_string  # between the opening quote of "a" and the a


def test_splitting_is_deterministic():
    unit = element_units(elements_for(), "lines", close_array=True)[0]
    assert split_pieces(unit, "x") == split_pieces(unit, "x")
    assert b"".join(split_pieces(unit, "y")) == unit


def test_split_text_keeps_the_text():
    for text in ["abc", "x" * 1000, reply_for("q", [], 40).text]:
        deltas = split_text(text)
        assert "".join(deltas) == text and len(deltas) >= 3 and all(deltas)


def test_open_array_units_end_with_a_separator():
    units = element_units(elements_for(), "crlf", close_array=False)
    assert all(u.endswith(b",\r\n") for u in units)
