explain --no-cache --root project tests/test_worker.py
