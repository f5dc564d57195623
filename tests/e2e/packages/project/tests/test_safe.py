import lib.deep.a


def test_y():
    pass
