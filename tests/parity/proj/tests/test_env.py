import os


def test_flavor():
    assert os.environ.get("PARITY_FLAVOR") == "sweet"
