import quiet
import winonly


def test_quiet():
    assert not winonly.WIN and quiet.LOCK
