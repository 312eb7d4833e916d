"""The Dockerfile parser: directives, comments, continuations, JSON forms, heredocs, errors."""

from __future__ import annotations

import pytest

from dockyard.build.instructions import (
    CommandInstruction,
    Copy,
    From,
    Healthcheck,
    KeyValues,
    Onbuild,
    Run,
    Words,
    instruction,
    plan,
)
from dockyard.build.parser import DockerfileError, parse


def test_keywords_case_insensitive_and_line_numbers() -> None:
    df = parse("from busybox\n\n# a comment\nrun echo hi\n")
    assert [(n.keyword, n.args, n.line) for n in df.nodes] == [("FROM", "busybox", 1), ("RUN", "echo hi", 4)]


def test_unknown_instruction_names_line() -> None:
    text = "FROM busybox\n" + "\n" * 5 + "RUNN echo\n"
    with pytest.raises(DockerfileError) as err:
        parse(text)
    assert str(err.value) == 'Dockerfile:7: unknown instruction "RUNN"'


def test_continuations_with_comments_and_empty_lines() -> None:
    df = parse("FROM busybox\nRUN echo a \\\n# inside\n\n    b \\\n  c\nCMD x\n")
    run = df.nodes[1]
    assert run.args == "echo a     b   c"
    assert (run.line, run.end_line) == (2, 6)
    assert df.nodes[2].line == 7


def test_escape_directive_backtick() -> None:
    df = parse("# escape=`\nFROM busybox\nRUN echo a `\n b\nCOPY a\\b c\\\n")
    assert df.escape == "`"
    assert df.nodes[1].args == "echo a  b"
    assert df.nodes[2].args == "a\\b c\\"


def test_syntax_directive_accepted_and_directive_after_comment_ignored() -> None:
    df = parse("# syntax=docker/dockerfile:1\n# hello\n# escape=`\nFROM busybox\nRUN a \\\n b\n")
    assert df.directives == {"syntax": "docker/dockerfile:1"}
    assert df.escape == "\\"
    assert df.nodes[1].args == "a  b"


def test_duplicate_directive_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="only one escape"):
        parse("# escape=`\n# escape=\\\nFROM busybox\n")


def test_json_form_with_continuation_inside() -> None:
    df = parse('FROM busybox\nRUN ["echo", \\\n  "hi there"]\nCMD ["a", "b"]\nENTRYPOINT echo [x]\n')
    ins = [instruction(n) for n in df.nodes]
    run = ins[1]
    assert isinstance(run, Run) and run.command.argv == ["echo", "hi there"]
    cmd = ins[2]
    assert isinstance(cmd, CommandInstruction) and cmd.command.argv == ["a", "b"]
    entry = ins[3]
    assert isinstance(entry, CommandInstruction) and entry.command.shell == "echo [x]"


def test_invalid_json_is_shell_form() -> None:
    ins = instruction(parse('CMD ["a", b]\n').nodes[0])
    assert isinstance(ins, CommandInstruction) and ins.command.argv is None
    assert ins.command.shell == '["a", b]'


def test_heredocs_run_and_copy() -> None:
    text = 'FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-"END" /f\n\tkeep $X\n\tEND\nCMD x\n'
    df = parse(text)
    run, copy = df.nodes[1], df.nodes[2]
    assert run.heredocs[0].name == "EOF" and run.heredocs[0].content == "echo one\necho two\n"
    assert run.heredocs[0].expand
    assert copy.heredocs[0].content == "keep $X\n" and not copy.heredocs[0].expand
    assert df.nodes[3].keyword == "CMD" and df.nodes[3].line == 9


def test_two_heredocs_on_one_line() -> None:
    df = parse("FROM b\nRUN cat <<A <<B\na\nA\nb\nB\n")
    assert [h.content for h in df.nodes[1].heredocs] == ["a\n", "b\n"]


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileError, match="unterminated heredoc 'EOF'"):
        parse("FROM b\nRUN <<EOF\necho\n")


def test_flags_split_and_checked() -> None:
    node = parse("COPY --from=build --chown=1:2 --link a b/\n").nodes[0]
    assert node.flags == ["--from=build", "--chown=1:2", "--link"]
    ins = instruction(node)
    assert isinstance(ins, Copy)
    assert ins.flag("from") == "build" and ins.flag("link") == "true"
    assert ins.sources == ["a"] and ins.dest == "b/"
    with pytest.raises(DockerfileError, match="unknown flag: --frm"):
        instruction(parse("COPY --frm=x a b\n").nodes[0])
    with pytest.raises(DockerfileError, match="duplicate flag"):
        instruction(parse("COPY --from=a --from=b a b\n").nodes[0])


def test_run_mount_repeatable_and_network() -> None:
    ins = instruction(
        parse("RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t --network=none true\n").nodes[0]
    )
    assert ins.flags["mount"] == ["type=cache,target=/c", "type=tmpfs,target=/t"]
    assert ins.flag("network") == "none"


def test_env_forms() -> None:
    new = instruction(parse('ENV A=1 B="two words" C=three\\ words\n').nodes[0])
    assert isinstance(new, KeyValues)
    assert new.pairs == [("A", "1"), ("B", '"two words"'), ("C", "three\\ words")]
    legacy = instruction(parse("ENV NAME some value here\n").nodes[0])
    assert isinstance(legacy, KeyValues) and legacy.pairs == [("NAME", "some value here")]


def test_arg_forms_and_label_errors() -> None:
    arg = instruction(parse("ARG A B=2\n").nodes[0])
    assert isinstance(arg, KeyValues) and arg.pairs == [("A", None), ("B", "2")]
    with pytest.raises(DockerfileError, match="can't find ="):
        instruction(parse("LABEL a=1 b\n").nodes[0])


def test_from_forms() -> None:
    f = instruction(parse("FROM --platform=linux/amd64 busybox AS Build\n").nodes[0])
    assert isinstance(f, From) and (f.image, f.name, f.flag("platform")) == (
        "busybox",
        "Build",
        "linux/amd64",
    )
    with pytest.raises(DockerfileError, match="one or three arguments"):
        instruction(parse("FROM a b\n").nodes[0])


def test_healthcheck_onbuild_volume_shell() -> None:
    hc = instruction(parse("HEALTHCHECK --interval=5s --retries=3 CMD wget -q x\n").nodes[0])
    assert isinstance(hc, Healthcheck) and hc.command is not None and hc.command.shell == "wget -q x"
    none = instruction(parse("HEALTHCHECK NONE\n").nodes[0])
    assert isinstance(none, Healthcheck) and none.none
    ob = instruction(parse("ONBUILD RUN echo hi\n").nodes[0])
    assert isinstance(ob, Onbuild) and ob.trigger == "RUN echo hi"
    with pytest.raises(DockerfileError, match="isn't allowed as an ONBUILD trigger"):
        parse("ONBUILD FROM x\n")
    vol = instruction(parse('VOLUME ["/a", "/b"]\n').nodes[0])
    assert isinstance(vol, Words) and vol.items == ["/a", "/b"]
    with pytest.raises(DockerfileError, match="JSON form"):
        instruction(parse("SHELL bash -c\n").nodes[0])


def test_plan_stages_meta_args_and_errors() -> None:
    p = plan(parse("ARG V=1\nFROM busybox:${V} AS one\nRUN a\nFROM one\nCOPY --from=one /x /y\n"))
    assert [s.name for s in p.stages] == ["one", None]
    assert len(p.meta_args) == 1 and p.count() == 4
    assert p.stage("ONE") is p.stages[0] and p.stage("1") is p.stages[1]
    with pytest.raises(DockerfileError, match="only ARG may come before FROM"):
        plan(parse("RUN x\nFROM busybox\n"))
    with pytest.raises(DockerfileError, match="duplicate stage name"):
        plan(parse("FROM a AS x\nFROM b AS x\n"))
    with pytest.raises(DockerfileError, match="no FROM"):
        plan(parse("# nothing\n"))


def test_copy_requires_destination_and_bom_and_crlf() -> None:
    with pytest.raises(DockerfileError, match="at least two arguments"):
        instruction(parse("COPY onlyone\n").nodes[0])
    df = parse("\ufeffFROM busybox\r\nRUN echo \\\r\n hi\r\n")
    assert df.nodes[1].args == "echo  hi"
