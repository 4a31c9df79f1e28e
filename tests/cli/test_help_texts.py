"""What --help says matches what the commands do (found by walking the README's commands): the default replica size
the inference estimate picks, `wattprint run`'s usage line and --json, the descriptions and help of every command
and argument, and what `data search` lists as a model's name."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator

import pytest

from wattprint.cli import build_parser, main


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def _option_help(text: str, option: str) -> str:
    """The help of ``option`` in a --help text, its wrapped lines joined."""
    block = re.split(rf"\n  {re.escape(option)}[ \n]", text, maxsplit=1)[1]  # a long option's help: next line
    lines = [block.splitlines()[0]]
    for line in block.splitlines()[1:]:
        if not line.startswith("   "):  # the next option (indented by 2) or the end of the list
            break
        lines.append(line)
    return " ".join(" ".join(lines).split())


def test_the_count_help_says_how_the_default_replica_is_chosen(capsys: pytest.CaptureFixture[str]) -> None:
    """It said "smallest that holds the weights", but under a load the replica is the power of 2 with the least
    energy per request: --params 70B --requests-per-day 10M on H100s gets 4, while 2 hold the weights."""
    said = _option_help(_help(["estimate", "inference"], capsys), "--count COUNT")
    assert "smallest that holds the weights" not in said
    assert "power of 2" in said and "least energy per request" in said and "--batch-size" in said
    for load, chips in (("10M", 4), ("1000", 2)):  # what it says: the size depends on the load
        assert main(["estimate", "inference", "--params", "70B", "--hardware", "H100", "--requests-per-day", load,
                     "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["accelerators_per_replica"] == chips


def _usage_and_options(text: str) -> tuple[str, str]:
    usage, _, rest = text.partition("\n\n")
    return " ".join(usage.split()), rest.split("\noptions:\n", 1)[1]


def test_run_usage_names_the_options_as_the_list_does(capsys: pytest.CaptureFixture[str]) -> None:
    """The hand-written usage said `--project P`, `--run ID`, `--db URL`, the list `--project PROJECT`, `--run RUN_ID`,
    `--db DB`."""
    usage, options = _usage_and_options(_help(["run"], capsys))
    in_usage = dict(re.findall(r"\[(--[\w-]+) ([A-Z_]+)\]", usage))
    in_list = dict(re.findall(r"^  (--[\w-]+) ([A-Z_]+)", options, re.MULTILINE))
    assert in_usage == in_list and {"--project", "--run", "--db", "--interval", "--pue"} <= set(in_usage)
    assert usage.endswith("[--json] -- command [args ...]")


def test_run_json_help_says_the_summary_is_the_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    """The output starts with a blank line (the summary stays on a line of its own after a command's output that
    did not end with a newline): "one JSON line on stdout" was not what it printed."""
    text = _help(["run"], capsys)
    assert "last line of stdout" in _option_help(text, "--json")
    described = " ".join(text.split("\n\n")[1].split())  # the description, which says it too
    assert "one JSON line on stdout" not in described and "as the last line of stdout" in described


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_argument_has_a_help_text() -> None:
    """`data regions --kind` and `data search TEXT` had none."""
    missing = [f"{p.prog} {a.option_strings[0] if a.option_strings else a.dest}" for p in _parsers(build_parser())
               for a in p._actions if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert missing == []


@pytest.mark.parametrize("command", ["data", "demo", "estimate", "run", "runs"])
def test_every_command_has_a_description_in_its_own_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`wattprint data --help` and `wattprint demo --help` went from the usage straight to the argument lists."""
    after_usage = _help([command], capsys).split("\n\n")[1]
    assert not after_usage.startswith(("positional arguments:", "options:"))


def test_search_lists_a_models_name_as_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    """The name column showed the parameter count ("Qwen3 0.6B" named "0.6B")."""
    assert main(["data", "search", "qwen3", "--json"]) == 0
    hits = {h["key"]: h["name"] for h in json.loads(capsys.readouterr().out)}
    assert hits["Qwen3 0.6B"] == "Qwen3 0.6B, 0.6B parameters"
    assert hits["Qwen3-30B-A3B"] == "Qwen3-30B-A3B, 30.5B parameters (3.3B active)"


def test_the_inference_precision_help_lists_what_the_estimate_takes(capsys: pytest.CaptureFixture[str]) -> None:
    """It listed "fp32, bf16, fp16, fp8, int8, int4", but tf32 is accepted too."""
    said = _option_help(_help(["estimate", "inference"], capsys), "--precision PRECISION")
    listed = said.removeprefix("weights: ").split(" (default")[0].split(", ")
    assert "tf32" in listed and "nvfp4" in listed and len(listed) == 10
    for precision in listed:  # each one listed runs; the 4-bit float formats are read as int4, as the help says
        assert main(["estimate", "inference", "--params", "1B", "--hardware", "H100", "--precision", precision,
                     "--json"]) == 0
        read_as = "int4" if precision.endswith("fp4") else precision
        assert json.loads(capsys.readouterr().out)["precision"] == read_as


def test_the_tdp_w_help_says_it_replaces_a_published_tdp(capsys: pytest.CaptureFixture[str]) -> None:
    """It said "for chips without a published TDP", but it also replaces the H100's 700 W (marked "(given)")."""
    said = _option_help(_help(["estimate", "inference"], capsys), "--tdp-w TDP_W")
    assert "without a published TDP" in said and "replaces a published one" in said
    assert main(["estimate", "inference", "--params", "1B", "--hardware", "H100", "--tdp-w", "600", "--json"]) == 0
    chip = next(a for a in json.loads(capsys.readouterr().out)["assumptions"] if a["what"] == "accelerator")
    assert "TDP 600 W (given)" in chip["value"]


def test_each_sub_command_sits_on_one_line_with_its_help(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`wattprint estimate --help` put "inference" on a line of its own, its help below (argparse measures a
    sub-command's name two columns short); the two kinds' helps were in different styles."""
    monkeypatch.setenv("COLUMNS", "80")
    for parser in _parsers(build_parser()):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            continue
        text = _help(parser.prog.split()[1:], capsys)
        for choice in subs[0]._choices_actions:
            first_words = " ".join(str(choice.help).split()[:3])
            assert re.search(rf"^    {choice.dest} +{re.escape(first_words)}", text, re.MULTILINE), (parser.prog,
                                                                                                   choice.dest)
    kinds = _help(["estimate"], capsys)
    assert "training   predict the footprint of a training run" in kinds
    assert "inference  predict the footprint of serving an LLM" in kinds


def test_the_days_help_says_what_happens_without_a_load(capsys: pytest.CaptureFixture[str]) -> None:
    """It said "(default: one year)", but without a load the footprint covers one request and --days is refused."""
    said = _option_help(_help(["estimate", "inference"], capsys), "--days DAYS")
    assert "needs --requests-per-day or --tokens-per-day" in said and "one request's" in said
    assert "at most a century" in said
    assert main(["estimate", "inference", "--params", "1B", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["period"] == "one request"
    assert main(["estimate", "inference", "--params", "1B", "--days", "30"]) == 2
    assert "--days (days) needs a load" in capsys.readouterr().err
    assert main(["estimate", "inference", "--params", "1B", "--requests-per-day", "1k", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["period"].startswith("365.25 days")
