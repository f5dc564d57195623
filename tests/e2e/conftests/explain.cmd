explain --no-cache --root project tests/unit/conftest.py
