from auth import login


def test_login():
    assert login("ada", "lovelace")


def test_bad_password():
    assert not login("ada", "babbage")
