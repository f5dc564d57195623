collect_ignore = ["test_ignored.py"]
pytest_plugins = ["helpers"]
