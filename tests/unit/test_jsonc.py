"""JSONC reader: JSON plus comments and trailing commas, with errors placed in the original text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wws_init.jsonc import MAX_DEPTH, JsoncError, loads


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "[]",
        '{"a": [1, -2.5, 3e2, 0, -0, 1E-3], "b": {"c": null, "d": true, "e": false}}',
        '"\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/\\b\\f\\r"',
        '"caf\u00e9 \U0001f600"',
        "12345678901234567890123",
        "  \n\t 7 \r\n",
        '[[[[["deep"]]]]]',
    ],
)
def test_plain_json_reads_as_json_does(text: str) -> None:
    """Text that is plain JSON gives exactly what json.loads gives."""
    assert loads(text) == json.loads(text)


def test_numbers_keep_their_json_type() -> None:
    """Integers stay int and anything with a fraction or exponent is float, as in json."""
    value = loads("[1, 1.0, 1e0, -7]")
    assert value == [1, 1.0, 1.0, -7]
    assert [type(v) for v in value] == [int, float, float, int]


def test_line_comments_are_ignored() -> None:
    """`//` comments run to the end of the line, also on the last line without a newline."""
    text = '// header\n{\n  "a": 1, // after a member\n  // on its own line\n  "b": 2\n} // end'
    assert loads(text) == {"a": 1, "b": 2}


def test_block_comments_are_ignored() -> None:
    """`/* */` comments may span lines and sit between any two tokens."""
    text = '/* a\n   b */{/*k*/"a"/*c*/:/*v*/[1/*x*/,/**/2]/* y */}/**/'
    assert loads(text) == {"a": [1, 2]}


def test_comment_markers_inside_strings_are_text() -> None:
    """`//` and `/*` inside a string are part of the string, not comments."""
    text = '{"url": "https://example.com/*path*/", "c": "// not a comment"}'
    assert loads(text) == {"url": "https://example.com/*path*/", "c": "// not a comment"}


def test_trailing_commas_are_allowed() -> None:
    """A comma after the last member of an object or array is accepted."""
    assert loads('{"a": [1, 2,], "b": {"c": 3,},}') == {"a": [1, 2], "b": {"c": 3}}


def test_trailing_comma_may_be_followed_by_a_comment() -> None:
    """A trailing comma followed by a comment before the closing bracket is accepted."""
    assert loads("[\n  1, // one\n  /* end */\n]") == [1]


def test_byte_order_mark_is_ignored() -> None:
    """A leading UTF-8 byte order mark (as Windows editors write) is skipped."""
    assert loads('\ufeff{"a": 1}') == {"a": 1}


def test_duplicate_keys_keep_the_last_value() -> None:
    """A repeated key keeps its last value, as json and VS Code's reader do."""
    assert loads('{"a": 1, "a": 2}') == {"a": 2}


def test_error_message_and_position_read_as_a_person_expects() -> None:
    """str() of an error is the message followed by "at line L, column C"."""
    text = '{\n  "name": "x",\n  "image": "y",\n  "features": {},\n  "a": 1,\n  "b": 2\n  "c": 3\n}'
    with pytest.raises(JsoncError) as caught:
        loads(text)
    assert str(caught.value) == "expected ',' or '}' after an object member at line 7, column 3"
    assert (caught.value.message, caught.value.line, caught.value.column) == (
        "expected ',' or '}' after an object member",
        7,
        3,
    )


def test_error_is_a_value_error_with_its_position() -> None:
    """JsoncError is a ValueError whose args carry the message and the position."""
    error = JsoncError("boom", 2, 5)
    assert isinstance(error, ValueError)
    assert (error.args, str(error)) == (("boom", 2, 5), "boom at line 2, column 5")


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ('{\n  "a": 1\n  "b": 2\n}', "expected ',' or '}' after an object member", 3, 3),
        ("[1 2]", "expected ',' or ']' after an array element", 1, 4),
        ('{"a" 1}', "expected ':' after the property name \"a\"", 1, 6),
        ("{a: 1}", "expected a property name in double quotes or '}'", 1, 2),
        ("{'a': 1}", "expected a property name in double quotes (not single quotes) or '}'", 1, 2),
        ('{"a": 1,,}', "expected a property name in double quotes or '}'", 1, 9),
        ("[1,,2]", "expected a value or ']' after ',' (two commas in a row)", 1, 4),
        ("[,]", "expected a value, found ','", 1, 2),
        ("", "the document is empty: expected a value", 1, 1),
        ("// only a comment\n", "the document is empty: expected a value", 2, 1),
        ('{"a": 1} {"b": 2}', "unexpected '{' after the end of the document (only one value is allowed)", 1, 10),
        ('{"a": tru}', "expected a value, found 'tru' (text needs double quotes)", 1, 7),
        ('{"a": True}', "expected a value, found 'True' (true, false and null are lowercase)", 1, 7),
        ("[undefined]", "expected a value, found 'undefined' (text needs double quotes)", 1, 2),
        ("['x']", "strings must be in double quotes, not single quotes", 1, 2),
        ("[NaN]", "expected a value, found 'NaN' (text needs double quotes)", 1, 2),
        ("[-Infinity]", "invalid number '-Infinity'", 1, 2),
        ("[01]", "invalid number '01'", 1, 2),
        ("[1.]", "invalid number '1.'", 1, 2),
        ("[.5]", "invalid number '.5'", 1, 2),
        ("[+1]", "invalid number '+1'", 1, 2),
        ("[0x1F]", "invalid number '0x1F'", 1, 2),
        ("[1e999]", "number '1e999' is too large", 1, 2),
        ('["a\\x"]', "invalid escape '\\x' in string (write '\\\\' for a backslash)", 1, 4),
        ('["\\u12G4"]', "invalid \\u escape: expected four hexadecimal digits", 1, 3),
        ('["\\u12"]', "invalid \\u escape: expected four hexadecimal digits", 1, 3),
        ('["abc', "unterminated string: no closing '\"'", 1, 2),
        ('["ab\\', "unterminated string: the text ends after a backslash", 1, 5),
        ('[\n  "ab\ncd"]', "unterminated string: no closing '\"' before the end of the line", 2, 3),
        ('["a\tb"]', "control character U+0009 must be escaped in a string", 1, 4),
        ("/* never closed", "unterminated /* comment: no closing */", 1, 1),
        ("{} /* never closed", "unterminated /* comment: no closing */", 1, 4),
        ('{"a": [1, 2', "unexpected end of input: missing ']' to close the array from line 1, column 7", 1, 12),
        ('{\n"a":', "unexpected end of input: missing '}' to close the object from line 1, column 1", 2, 5),
        ('{"a"', "unexpected end of input: missing '}' to close the object from line 1, column 1", 1, 5),
        ('{"a": 1,', "unexpected end of input: missing '}' to close the object from line 1, column 1", 1, 9),
        ("[1,", "unexpected end of input: missing ']' to close the array from line 1, column 1", 1, 4),
        ("[", "unexpected end of input: missing ']' to close the array from line 1, column 1", 1, 2),
        ("[1] // fine\n]", "unexpected ']' after the end of the document (only one value is allowed)", 2, 1),
        ('{"a": \u00fc}', "expected a value, found '\u00fc'", 1, 7),
        ('{"a": \x01}', "expected a value, found U+0001", 1, 7),
        ("{/ }", "expected a property name in double quotes or '}'", 1, 2),
    ],
)
def test_malformed_text_is_reported_where_it_is_wrong(text: str, message: str, line: int, column: int) -> None:
    """Each kind of malformed input gets a plain message and its 1-based line and column."""
    with pytest.raises(JsoncError) as caught:
        loads(text)
    assert (caught.value.message, caught.value.line, caught.value.column) == (message, line, column)


def test_positions_count_in_the_original_text_not_a_stripped_one() -> None:
    """Comments before an error do not shift its reported position."""
    text = '{\n  /* a comment\n     over lines */ "a": 1, // trailing\n  "b" 2\n}'
    with pytest.raises(JsoncError) as caught:
        loads(text)
    assert (caught.value.line, caught.value.column) == (4, 7)


def test_crlf_line_endings_count_as_one_line_break() -> None:
    """With Windows line endings, lines and columns are what an editor shows."""
    with pytest.raises(JsoncError) as caught:
        loads('{\r\n  "a": 1\r\n  "b": 2\r\n}')
    assert (caught.value.line, caught.value.column) == (3, 3)


def test_a_tab_is_one_column() -> None:
    """Columns count characters, so a tab counts as one."""
    with pytest.raises(JsoncError) as caught:
        loads('{\n\t"a": 1\n\t"b": 2\n}')
    assert (caught.value.line, caught.value.column) == (3, 2)


def test_byte_order_mark_does_not_shift_columns_of_later_lines() -> None:
    """Errors after a byte order mark are still placed by character in the given text."""
    with pytest.raises(JsoncError) as caught:
        loads('\ufeff{\n"a" 1}')
    assert (caught.value.line, caught.value.column) == (2, 5)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    """MAX_DEPTH levels of nesting parse."""
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


def test_nesting_beyond_the_limit_is_an_error_not_a_crash() -> None:
    """Deeper nesting fails with JsoncError instead of exhausting the stack."""
    with pytest.raises(JsoncError) as caught:
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert caught.value.message == f"nesting deeper than {MAX_DEPTH} levels"
    assert (caught.value.line, caught.value.column) == (1, MAX_DEPTH + 1)


def test_huge_integer_is_an_error_not_a_crash() -> None:
    """An integer beyond int()'s digit limit is reported as a JsoncError."""
    with pytest.raises(JsoncError) as caught:
        loads("1" * 5000)
    assert caught.value.message == "number too long (5000 characters)"


def test_surrogate_pair_escapes_join_and_lone_ones_stay() -> None:
    """A \\u surrogate pair becomes one character; a lone surrogate stays as json keeps it."""
    assert loads('"\\ud83d\\ude00"') == "\U0001f600"
    assert loads('"\\ud83d"') == json.loads('"\\ud83d"')
    assert loads('"\\ud83d\\u0041"') == "\ud83dA"


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8")),
    lambda children: st.lists(children) | st.dictionaries(st.text(st.characters(codec="utf-8")), children),
    max_leaves=20,
)


@given(_JSON_VALUES, st.booleans())
def test_any_json_document_reads_back_unchanged(value: object, ascii_only: bool) -> None:
    """Whatever json.dumps writes, loads reads back to an equal value."""
    assert loads(json.dumps(value, ensure_ascii=ascii_only)) == value


@given(_JSON_VALUES)
def test_comments_at_every_line_break_change_nothing(value: object) -> None:
    """Adding a line comment and a block comment at every line break leaves the value as it was."""
    text = json.dumps(value, indent=2).replace("\n", " // note\n/* block */ ")
    assert loads(text) == value
