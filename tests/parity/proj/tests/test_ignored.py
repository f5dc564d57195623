def test_never():
    assert False
