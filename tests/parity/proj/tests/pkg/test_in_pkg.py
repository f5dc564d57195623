def test_in_pkg():
    pass
