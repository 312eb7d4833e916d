""".dockerignore patterns as moby's patternmatcher."""

from __future__ import annotations

from dockyard.oci.dockerignore import Matcher, read


def test_read_skips_comments_and_blanks() -> None:
    assert read("# c\n\n a \n!b\n") == ["a", "!b"]


def test_simple_globs_and_dirs() -> None:
    m = Matcher(["*.log", "build", "/tmp/*.txt", "./dist/"])
    assert m.excluded("x.log")
    assert not m.excluded("sub/x.log")  # "*" does not cross folders
    assert m.excluded("build") and m.excluded("build/a/b.c")
    assert m.excluded("tmp/a.txt") and not m.excluded("tmp/a.md")
    assert m.excluded("dist/x")
    assert not m.excluded("src/main.py")


def test_double_star() -> None:
    m = Matcher(["**/*.pyc", "docs/**"])
    assert m.excluded("a.pyc") and m.excluded("a/b/c.pyc")
    assert m.excluded("docs/x/y") and not m.excluded("doc")


def test_exceptions_last_match_wins() -> None:
    m = Matcher(["*.md", "!README.md", "docs", "!docs/keep.txt"])
    assert m.excluded("CHANGES.md") and not m.excluded("README.md")
    assert m.excluded("docs/other.txt") and not m.excluded("docs/keep.txt")
    assert m.may_include_below("docs")
    again = Matcher(["*.md", "!README.md", "README.md"])
    assert again.excluded("README.md")


def test_char_class_question_mark_and_escape() -> None:
    m = Matcher(["file[0-9].txt", "?.c", "lit\\*"])
    assert m.excluded("file3.txt") and not m.excluded("fileA.txt")
    assert m.excluded("a.c") and not m.excluded("ab.c")
    assert m.excluded("lit*") and not m.excluded("litx")
