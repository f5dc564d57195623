"""Fixtures for the tests, and a doctest pytest collects (--doctest-modules).

>>> double(21)
42
"""
import pytest


def double(x):
    return 2 * x


@pytest.fixture
def answer():
    return double(21)
