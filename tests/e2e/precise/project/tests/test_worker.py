import worker


def test_worker():
    assert worker.run() is None
