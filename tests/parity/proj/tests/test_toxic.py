import subprocess

from parlib import add


def test_runs_isolated():
    assert subprocess.run(["true"]).returncode == 0 and add(1, 1) == 2
