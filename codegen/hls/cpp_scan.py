"""Lexical scanning of generated C++ shared by the rule checkers (``rules.py`` R1-R8, ``perf_rules.py`` R9-R14)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A function definition at the start of a line: (name, parameter text), the match ends on the body's '{'.
FUNC = re.compile(r"^(?:static\s+|inline\s+|template\s*<[^>]*>\s*)*[\w:<>]+[\s*&]+(\w+)\s*\(([^;{]*)\)\s*\{", re.M)
# A braced for loop: (init, condition, step), the match ends on the body's '{'.
FOR = re.compile(r"\bfor\s*\(([^;]*);([^;]*);([^)]*)\)\s*\{")


@dataclass(frozen=True)
class Violation:
    rule: str
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.rule}] {self.message}"


def strip_comments(text: str) -> str:
    """Comments and string literals blanked out (same length, so line numbers stay)."""
    def blank(m: re.Match) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    return re.sub(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\])*"', blank, text, flags=re.S)


def matching(text: str, pos: int, open_ch: str = "{", close_ch: str = "}") -> int:
    """Position of the bracket closing the one at (or first after) ``pos``; ``len(text)`` when unbalanced."""
    depth = 0
    for i in range(pos, len(text)):
        if text[i] == open_ch:
            depth += 1
        elif text[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1
