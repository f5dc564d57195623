import sys

import pytest

from parlib import add


class TestBase:
    def test_add(self):
        assert add(1, 2) == 3

    @pytest.mark.slow
    def test_slow(self):
        assert True


@pytest.mark.parametrize("x", [1, 2, pytest.param(3, marks=pytest.mark.slow)])
def test_param(x, answer):
    assert x and answer == 42


@pytest.mark.slow
def test_all_slow():
    pass


def test_fails():
    assert add(2, 2) == 5


if sys.platform == "win32":
    def test_windows_only():
        pass
