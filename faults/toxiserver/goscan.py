"""Go's JSON syntax errors, word for word: a port of encoding/json's scanner (scanner.go) and
of `Decoder.readValue` (stream.go), run only when Python's decoder has refused a body.

Hand-written because no library reproduces Go's messages; the states and their texts are
Go's, checked against a Go 1.19 build (`tests/faults/toxiserver/test_goscan.py` lists the
cases). Python's `json` still decodes every body Go accepts; this only names the error.
"""

from __future__ import annotations

from collections.abc import Callable

MAX_DEPTH = 10000  # Go's maxNestingDepth
_SPACE = b" \t\r\n"
_HEX = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"

# what a step returns
CONTINUE, END, ERROR = 0, 1, 2
_OBJECT_KEY, _OBJECT_VALUE, _ARRAY_VALUE = 0, 1, 2


def quote_char(c: int) -> str:
    """Go's quoteChar: the byte as the rune of that number, quoted the way strconv.Quote does."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    char = chr(c)
    named = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v",
             0x5C: "\\\\"}
    if c in named:
        return f"'{named[c]}'"
    if char.isprintable():
        return f"'{char}'"
    return f"'\\x{c:02x}'" if c < 0x80 else f"'\\u{c:04x}'"


class _Scanner:
    """One JSON value's scanner; `step` is the state function, as in Go."""

    def __init__(self) -> None:
        self.step: Callable[[int], int] = self.begin_value
        self.stack: list[int] = []
        self.error: str | None = None

    def fail(self, c: int, context: str) -> int:
        self.step = lambda c: ERROR
        self.error = f"invalid character {quote_char(c)} {context}"
        return ERROR

    def push(self, c: int, state: int) -> int:
        self.stack.append(state)
        return CONTINUE if len(self.stack) <= MAX_DEPTH else self.fail(c, "exceeded max depth")

    def begin_value_or_empty(self, c: int) -> int:
        if c in _SPACE:
            return CONTINUE
        return self.end_value(c) if c == 0x5D else self.begin_value(c)

    def begin_value(self, c: int) -> int:
        if c in _SPACE:
            return CONTINUE
        if c == 0x7B:  # {
            self.step = self.begin_string_or_empty
            return self.push(c, _OBJECT_KEY)
        if c == 0x5B:  # [
            self.step = self.begin_value_or_empty
            return self.push(c, _ARRAY_VALUE)
        following = {0x22: self.in_string, 0x2D: self.neg, 0x30: self.zero,
                     0x74: self.literal("true"), 0x66: self.literal("false"),
                     0x6E: self.literal("null")}.get(c)
        if following is not None:
            self.step = following
            return CONTINUE
        if 0x31 <= c <= 0x39:
            self.step = self.digits
            return CONTINUE
        return self.fail(c, "looking for beginning of value")

    def begin_string_or_empty(self, c: int) -> int:
        if c in _SPACE:
            return CONTINUE
        if c == 0x7D:  # }
            self.stack[-1] = _OBJECT_VALUE
            return self.end_value(c)
        return self.begin_string(c)

    def begin_string(self, c: int) -> int:
        if c in _SPACE:
            return CONTINUE
        if c == 0x22:
            self.step = self.in_string
            return CONTINUE
        return self.fail(c, "looking for beginning of object key string")

    def end_value(self, c: int) -> int:
        if not self.stack:
            self.step = self.end_top
            return self.end_top(c)
        if c in _SPACE:
            self.step = self.end_value
            return CONTINUE
        state = self.stack[-1]
        if state == _OBJECT_KEY:
            if c == 0x3A:  # :
                self.stack[-1] = _OBJECT_VALUE
                self.step = self.begin_value
                return CONTINUE
            return self.fail(c, "after object key")
        if state == _OBJECT_VALUE:
            if c == 0x2C:  # ,
                self.stack[-1] = _OBJECT_KEY
                self.step = self.begin_string
                return CONTINUE
            if c == 0x7D:
                return self.close(c)
            return self.fail(c, "after object key:value pair")
        if c == 0x2C:
            self.step = self.begin_value
            return CONTINUE
        if c == 0x5D:
            return self.close(c)
        return self.fail(c, "after array element")

    def close(self, c: int) -> int:
        """The end of an object or array: Decoder ends the value here if it was the outer one."""
        self.stack.pop()
        self.step = self.end_value
        return END if not self.stack else CONTINUE

    def end_top(self, c: int) -> int:
        return END  # Go notes an error for a non-space here, but Decoder has its value

    def in_string(self, c: int) -> int:
        if c == 0x22:
            self.step = self.end_value
            return CONTINUE
        if c == 0x5C:
            self.step = self.in_string_escape
            return CONTINUE
        if c < 0x20:
            return self.fail(c, "in string literal")
        return CONTINUE

    def in_string_escape(self, c: int) -> int:
        if c in b'bfnrt\\/"':
            self.step = self.in_string
            return CONTINUE
        if c == 0x75:  # u
            self.step = self.hex_digits(4)
            return CONTINUE
        return self.fail(c, "in string escape code")

    def hex_digits(self, left: int) -> Callable[[int], int]:
        def step(c: int) -> int:
            if c not in _HEX:
                return self.fail(c, "in \\u hexadecimal character escape")
            self.step = self.in_string if left == 1 else self.hex_digits(left - 1)
            return CONTINUE
        return step

    def neg(self, c: int) -> int:
        if c == 0x30:
            self.step = self.zero
            return CONTINUE
        if 0x31 <= c <= 0x39:
            self.step = self.digits
            return CONTINUE
        return self.fail(c, "in numeric literal")

    def digits(self, c: int) -> int:
        return CONTINUE if c in _DIGITS else self.zero(c)

    def zero(self, c: int) -> int:
        if c == 0x2E:  # .
            self.step = self.dot
            return CONTINUE
        if c in b"eE":
            self.step = self.exponent
            return CONTINUE
        return self.end_value(c)

    def dot(self, c: int) -> int:
        if c in _DIGITS:
            self.step = self.fraction
            return CONTINUE
        return self.fail(c, "after decimal point in numeric literal")

    def fraction(self, c: int) -> int:
        if c in _DIGITS:
            return CONTINUE
        if c in b"eE":
            self.step = self.exponent
            return CONTINUE
        return self.end_value(c)

    def exponent(self, c: int) -> int:
        if c in b"+-":
            self.step = self.exponent_sign
            return CONTINUE
        return self.exponent_sign(c)

    def exponent_sign(self, c: int) -> int:
        if c in _DIGITS:
            self.step = self.exponent_digits
            return CONTINUE
        return self.fail(c, "in exponent of numeric literal")

    def exponent_digits(self, c: int) -> int:
        return CONTINUE if c in _DIGITS else self.end_value(c)

    def literal(self, word: str) -> Callable[[int], int]:
        """true, false, null after their first letter, one expected letter at a time."""
        def after(done: int) -> Callable[[int], int]:
            def step(c: int) -> int:
                want = word[done]
                if c != ord(want):
                    return self.fail(c, f"in literal {word} (expecting '{want}')")
                self.step = self.end_value if done + 1 == len(word) else after(done + 1)
                return CONTINUE
            return step
        return after(1)


def syntax_error(data: bytes) -> str | None:
    """What Go's `json.NewDecoder(body).Decode(&v)` says of `data` before unmarshalling:
    `EOF`, `unexpected EOF`, `invalid character ...`; None when the first value is whole."""
    scanner = _Scanner()
    for c in data:
        result = scanner.step(c)
        if result == END:
            return None
        if result == ERROR:
            return scanner.error
    if scanner.step(0x20) == END:
        return None
    return "unexpected EOF" if data.strip(_SPACE) else "EOF"
