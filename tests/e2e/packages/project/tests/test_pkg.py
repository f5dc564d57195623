import lib.text
from nsp import tool


def test_x():
    pass
