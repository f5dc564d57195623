explain --policy strict --no-cache --root project project/tests/test_user.py
