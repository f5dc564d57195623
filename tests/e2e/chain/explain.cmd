explain --policy strict --no-cache --root project tests/test_user.py
