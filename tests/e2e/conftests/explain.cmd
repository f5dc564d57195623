explain --policy strict --no-cache --root project tests/unit/conftest.py
