"""JSONC reader: JSON with ``//`` and ``/* */`` comments and trailing commas.

devcontainer.json is written in this dialect (the spec's schema sets ``allowComments`` and
``allowTrailingCommas``; the templates' files are full of commented-out keys and end
members with commas). ``json`` rejects both.

This is a small recursive-descent parser over the original text rather than "strip the
comments, then ``json.loads``" because what matters on failure is the person reading the
message: the line and column must point into the file they have open, and the message must
say what to fix ("expected ',' or '}' after an object member"), which ``json``'s messages
("Expecting ',' delimiter") and its positions in a rewritten text do not.

Beyond comments and trailing commas the grammar is strict JSON: double-quoted strings, no
NaN/Infinity, no leading zeros, no unescaped control characters. Duplicate keys keep the
last value, as ``json`` and VS Code's reader do. Standard library only: this runs inside
workspace containers.
"""

from __future__ import annotations

import math
import re

__all__ = ["MAX_DEPTH", "JsoncError", "loads"]

MAX_DEPTH = 256
"""Deepest nesting accepted: a bound on recursion, far above any real configuration file."""

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBER_LIKE = re.compile(r"[-+.0-9A-Za-z_]+")  # the whole token, to name it in an error
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_STRING_CHUNK = re.compile(r'[^"\\\x00-\x1f]*')
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS: dict[str, object] = {"true": True, "false": False, "null": None}


class JsoncError(ValueError):
    """A syntax error, with the 1-based line and column of the problem in the text given.

    ``message`` says what was expected; ``str()`` adds "at line L, column C". Columns count
    characters (a tab is one), which is what editors show in their status bar.
    """

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message, line, column)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.message} at line {self.line}, column {self.column}"


def loads(text: str) -> object:
    """Parse JSONC ``text`` into dicts, lists, strs, ints, floats, bools and None.

    A leading byte order mark is ignored (editors on Windows write one). Raises JsoncError
    for anything that is not one well-formed value, with the position in ``text``.
    """
    start = 1 if text.startswith("\ufeff") else 0
    return _Parser(text, start).document()


def _position(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of offset ``pos``; ``\\r\\n`` counts as one line break."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, column


def _show(char: str) -> str:
    """A character as a message shows it: quoted if printable, else its code point."""
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


class _Parser:
    """One pass over one text; ``pos`` only moves forward."""

    def __init__(self, text: str, start: int) -> None:
        self.text = text
        self.pos = start

    def error(self, message: str, pos: int | None = None) -> JsoncError:
        line, column = _position(self.text, self.pos if pos is None else pos)
        return JsoncError(message, line, column)

    def peek(self) -> str:
        """The next character, or "" at the end of the text."""
        return self.text[self.pos : self.pos + 1]

    def skip(self) -> str:
        """Skip whitespace and comments; return the next character ("" at the end)."""
        text = self.text
        while True:
            match = _WHITESPACE.match(text, self.pos)
            assert match is not None  # the pattern matches the empty string
            self.pos = match.end()
            if text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated /* comment: no closing */")
                self.pos = end + 2
            else:
                return self.peek()

    def document(self) -> object:
        if self.skip() == "":
            raise self.error("the document is empty: expected a value")
        value = self.value(0)
        char = self.skip()
        if char != "":
            raise self.error(f"unexpected {_show(char)} after the end of the document (only one value is allowed)")
        return value

    def value(self, depth: int) -> object:
        """Parse the value at ``pos`` (whitespace already skipped)."""
        char = self.peek()
        if char == "{":
            return self.parse_object(depth + 1)
        if char == "[":
            return self.parse_array(depth + 1)
        if char == '"':
            return self.string()
        if char != "" and char in "-+.0123456789":
            return self.number()
        word = _WORD.match(self.text, self.pos)
        if word is not None:
            if word.group() in _LITERALS:
                self.pos = word.end()
                return _LITERALS[word.group()]
            hint = (
                "true, false and null are lowercase"
                if word.group().lower() in _LITERALS
                else "text needs double quotes"
            )
            raise self.error(f"expected a value, found '{word.group()}' ({hint})")
        if char == "":
            raise self.error("unexpected end of input: expected a value")
        if char == "'":
            raise self.error("strings must be in double quotes, not single quotes")
        raise self.error(f"expected a value, found {_show(char)}")

    def enter(self, depth: int) -> int:
        """Consume an opening bracket, refusing nesting deeper than MAX_DEPTH; return its offset."""
        if depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels")
        start = self.pos
        self.pos += 1
        return start

    def unclosed(self, kind: str, start: int) -> JsoncError:
        """The text ended inside the object or array opened at ``start``: name where that was."""
        line, column = _position(self.text, start)
        close = "}" if kind == "object" else "]"
        return self.error(
            f"unexpected end of input: missing '{close}' to close the {kind} from line {line}, column {column}"
        )

    def parse_object(self, depth: int) -> dict[str, object]:
        start = self.enter(depth)
        result: dict[str, object] = {}
        char = self.skip()
        if char == "}":
            self.pos += 1
            return result
        while True:
            if char == "":
                raise self.unclosed("object", start)
            if char != '"':
                quote = " (not single quotes)" if char == "'" else ""
                raise self.error(f"expected a property name in double quotes{quote} or '}}'")
            key = self.string()
            char = self.skip()
            if char != ":":
                if char == "":
                    raise self.unclosed("object", start)
                raise self.error(f"expected ':' after the property name \"{key}\"")
            self.pos += 1
            if self.skip() == "":
                raise self.unclosed("object", start)
            result[key] = self.value(depth)
            char = self.skip()
            if char == "}":
                self.pos += 1
                return result
            if char == ",":
                self.pos += 1
                char = self.skip()
                if char == "}":  # trailing comma
                    self.pos += 1
                    return result
                continue
            if char == "":
                raise self.unclosed("object", start)
            raise self.error("expected ',' or '}' after an object member")

    def parse_array(self, depth: int) -> list[object]:
        start = self.enter(depth)
        result: list[object] = []
        char = self.skip()
        if char == "]":
            self.pos += 1
            return result
        while True:
            if char == "":
                raise self.unclosed("array", start)
            result.append(self.value(depth))
            char = self.skip()
            if char == "]":
                self.pos += 1
                return result
            if char == ",":
                self.pos += 1
                char = self.skip()
                if char == "]":  # trailing comma
                    self.pos += 1
                    return result
                if char == ",":
                    raise self.error("expected a value or ']' after ',' (two commas in a row)")
                continue
            if char == "":
                raise self.unclosed("array", start)
            raise self.error("expected ',' or ']' after an array element")

    def string(self) -> str:
        """Parse the string whose opening quote is at ``pos``."""
        text = self.text
        start = self.pos
        self.pos += 1
        parts: list[str] = []
        while True:
            chunk = _STRING_CHUNK.match(text, self.pos)
            assert chunk is not None  # the pattern matches the empty string
            parts.append(chunk.group())
            self.pos = chunk.end()
            char = self.peek()
            if char == '"':
                self.pos += 1
                return "".join(parts)
            if char == "":
                raise self.error("unterminated string: no closing '\"'", start)
            if char == "\n":
                raise self.error("unterminated string: no closing '\"' before the end of the line", start)
            if char != "\\":
                raise self.error(f"control character {_show(char)} must be escaped in a string")
            parts.append(self.escape())

    def escape(self) -> str:
        """Parse the escape sequence whose backslash is at ``pos``."""
        text = self.text
        kind = text[self.pos + 1 : self.pos + 2]
        if kind in _ESCAPES:
            self.pos += 2
            return _ESCAPES[kind]
        if kind == "u":
            code = self.hex4(self.pos + 2)
            self.pos += 6
            if 0xD800 <= code <= 0xDBFF and text.startswith("\\u", self.pos):
                low = self.hex4(self.pos + 2)
                if 0xDC00 <= low <= 0xDFFF:  # a surrogate pair spelled as two escapes
                    self.pos += 6
                    return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
            return chr(code)
        if kind == "":
            raise self.error("unterminated string: the text ends after a backslash")
        raise self.error(f"invalid escape '\\{kind}' in string (write '\\\\' for a backslash)")

    def hex4(self, at: int) -> int:
        digits = self.text[at : at + 4]
        if len(digits) != 4 or not _HEX.issuperset(digits):
            raise self.error("invalid \\u escape: expected four hexadecimal digits", at - 2)
        return int(digits, 16)

    def number(self) -> int | float:
        token = _NUMBER_LIKE.match(self.text, self.pos)
        match = _NUMBER.match(self.text, self.pos)
        assert token is not None  # value() saw a character of the token's class
        if match is None or match.end() != token.end():
            raise self.error(f"invalid number '{token.group()}'")
        literal = match.group()
        try:
            number: int | float = float(literal) if any(c in literal for c in ".eE") else int(literal)
        except ValueError:  # more digits than int() converts
            raise self.error(f"number too long ({len(literal)} characters)") from None
        if isinstance(number, float) and math.isinf(number):
            raise self.error(f"number '{literal}' is too large")
        self.pos = match.end()
        return number
