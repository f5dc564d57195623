import pytest

pytest.importorskip("no_such_module_for_parity")


def test_x():
    pass
