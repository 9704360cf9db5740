"""The benchmark cannot rot unnoticed: CI runs every row at a small size, and a row
that no longer runs fails the run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from benchmarks import __main__ as bench
from benchmarks import common

ROOT = Path(__file__).resolve().parents[2]


def ci_steps() -> list:
    return re.findall(r"^step (.+)$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)


def test_ci_runs_the_smoke_run_after_the_tests():
    steps = ci_steps()
    assert "make bench-smoke" in steps, steps
    assert steps.index("make test") < steps.index("make bench-smoke"), steps


def test_bench_smoke_sets_the_machine_up_and_runs_every_row_small():
    # -n: print the recipe without running it.
    recipe = subprocess.run(
        ["make", "-n", "bench-smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    run = recipe.find("-m benchmarks --smoke")
    assert run >= 0, recipe
    assert 0 <= recipe.find("scripts/system-deps.sh") < run, recipe
    assert "--rows" not in recipe, recipe


def test_the_smoke_run_and_the_full_run_take_every_row_of_the_table():
    assert bench.parse(["--smoke"]).rows == list(bench.ROWS)
    assert bench.parse([]).rows == list(bench.ROWS)
    for key in bench.ROWS:
        assert callable(bench._row(key)), key


def test_every_row_of_the_table_is_documented():
    documented = re.findall(
        r"^\| (\w+) \|", (ROOT / "benchmarks" / "README.md").read_text(), re.MULTILINE
    )
    assert [r for r in documented if r != "Row"] == list(bench.ROWS)


def test_a_row_that_raises_fails_the_run_with_its_traceback(monkeypatch, capsys):
    def broken():
        raise KeyError("octopiuptodate_build")

    def fine():
        return [common.Row("1", "a figure", "1.0")]

    rows = {"1": fine, "2": broken}
    monkeypatch.setattr(bench, "_row", rows.__getitem__)
    monkeypatch.setattr(common, "prepare", lambda: None)  # no process-wide setup

    assert bench.main(["--rows", "1,2"]) == 1
    out, err = capsys.readouterr()
    assert "| 1 | a figure | 1.0 |" in out
    assert "| 2 | row 2 | error: KeyError: 'octopiuptodate_build'" in out
    assert "Traceback (most recent call last):" in err
    assert "raise KeyError" in err
    assert "FAILED: rows 2 did not run" in err


def test_a_case_that_failed_inside_a_row_fails_the_run(monkeypatch, capsys):
    def half():
        return [
            common.Row("7", "SQLite", "2,500 reports/s"),
            *common.failed("7", "PostgreSQL", RuntimeError("PostgreSQL unavailable")),
        ]

    monkeypatch.setattr(bench, "_row", {"7": half}.__getitem__)
    monkeypatch.setattr(common, "prepare", lambda: None)

    assert bench.main(["--rows", "7"]) == 1
    out, err = capsys.readouterr()
    assert "RuntimeError: PostgreSQL unavailable" in err
    assert "FAILED: rows 7 did not run" in err


def test_a_row_without_figures_fails_the_run(monkeypatch, capsys):
    monkeypatch.setattr(bench, "_row", {"5": list}.__getitem__)
    monkeypatch.setattr(common, "prepare", lambda: None)

    assert bench.main(["--rows", "5"]) == 1
    assert "the row produced no figures" in capsys.readouterr().err


def test_goals_missed_do_not_fail_the_run(monkeypatch, capsys):
    missed = [common.Row("6", "startup time", "9 s", goal="≤ 1 s", met=False)]
    monkeypatch.setattr(bench, "_row", {"6": lambda: missed}.__getitem__)
    monkeypatch.setattr(common, "prepare", lambda: None)

    assert bench.main(["--rows", "6"]) == 0
    assert "FAILED" not in capsys.readouterr().err
