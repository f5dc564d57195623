explain --policy strict --no-cache --root project tests/test_pkg.py
