"""`wattprint estimate training` refuses a run that cannot be carried out as stated with exit 2 and one line (it
printed 158,000 years of wall time, 565 ktCO2e, with exit 0); the README's quick-start trainings still print."""

from __future__ import annotations

import pytest

from wattprint.cli import main

TRAIN = ["estimate", "training", "--hardware", "A100"]


@pytest.mark.parametrize(("argv", "said"), [
    (["--count", "1", "--params", "1T", "--tokens", "100T"],
     "years on 1 chip exceeds the hardware's 6-year service life: check --count"),
    (["--count", "64", "--flops", "1e30"], ",000 years on 64 chips exceeds"),
    (["--count", "8", "--days", "1e30"], "--days 1e+30 (2.74e+27 years of wall time) exceeds"),
    (["--params", "1e30", "--tokens", "1T"], "the world's annual emissions"),
    (["--chip-hours", "1e30"], "check the magnitudes of --chip-hours 1e+30"),
    (["--params", "7B", "--tokens", "2T", "--mfu", "1e-30"], "--mfu (mfu) 1e-30 is far below"),
    (["--chip-hours", "100", "--days", "10"], "--chip-hours 100 over --days 10 is 0.42 chips: fewer than one"),
    (["--count", "8", "--flops", "1e-30"], "--flops (flops) 1e-30 is fewer than any training has"),
    (["--chip-hours", "1e-30"], "chip-hours 1e-30 are fewer than any training takes"),
])
def test_an_impossible_training_is_a_one_line_error(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(TRAIN + argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and said in err


@pytest.mark.parametrize("command", [  # the README's quick-start training commands, as written there
    "--params 70B --tokens 2T --hardware A100 --count 2048 --location US",
    "--chip-hours 1.72e6 --hardware A100 --power-w 400 --pue 1.1 --intensity 385 --json",
    "--params 671B --active-params 37B --tokens 14.8T --hardware H800 --count 2048 --precision fp8 --location CN "
    "--market-intensity 0",
    "--model Llama-3.1-8B --tokens 15T --hardware H100 --count 1024 --location US",
])
def test_the_readme_quick_start_trainings_still_print(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "training", *command.split()]) == 0
    out, err = capsys.readouterr()
    assert "chip-hours" in out or "chip_hours" in out
    assert err == ""
