"""Variable substitution and quote handling as moby's shell lexer."""

from __future__ import annotations

import pytest

from dockyard.build.shellwords import SubstitutionError, expand, expand_words, split_raw

ENV = {"A": "a", "EMPTY": "", "SP": "x y"}


@pytest.mark.parametrize(
    ("word", "want"),
    [
        ("$A", "a"),
        ("${A}b", "ab"),
        ("$A$A", "aa"),
        ("$UNSET", ""),
        ("${UNSET:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET:-${A}x}", "ax"),
        ("'$A'", "$A"),
        ('"$A"', "a"),
        ('"\\$A"', "$A"),
        ("\\$A", "$A"),
        ('"a\\nb"', "a\\nb"),
        ("a\\ b", "a b"),
        ("$", "$"),
        ("$1", ""),
        ('"it\'s"', "it's"),
    ],
)
def test_expand(word: str, want: str) -> None:
    assert expand(word, ENV) == want


def test_expand_backtick_escape() -> None:
    assert expand("`$A", ENV, "`") == "$A"
    assert expand("a\\b", ENV, "`") == "a\\b"


def test_required_modifier_and_bad_substitution() -> None:
    with pytest.raises(SubstitutionError, match="UNSET: needed"):
        expand("${UNSET:?needed}", ENV)
    with pytest.raises(SubstitutionError, match="unsupported modifier"):
        expand("${A%x}", ENV)
    with pytest.raises(SubstitutionError, match="missing '}'"):
        expand("${A:-x", ENV)
    with pytest.raises(SubstitutionError, match="single-quote"):
        expand("'open", ENV)


def test_expand_words_splits_unquoted() -> None:
    assert expand_words("80 443/udp", ENV) == ["80", "443/udp"]
    assert expand_words('"a b" c', ENV) == ["a b", "c"]
    assert expand_words("$SP z", ENV) == ["x", "y", "z"]
    assert expand_words('"$SP"', ENV) == ["x y"]
    assert expand_words("  ", ENV) == []


def test_split_raw_keeps_quotes() -> None:
    assert split_raw('a="b c" d=e\\ f') == ['a="b c"', "d=e\\ f"]
