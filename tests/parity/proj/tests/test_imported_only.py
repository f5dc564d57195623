from test_base import TestBase as TestAgain  # noqa: F401
