import helpers


def test_b():
    pass
