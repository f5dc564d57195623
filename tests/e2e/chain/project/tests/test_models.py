from models import User


def test_user():
    assert User()
