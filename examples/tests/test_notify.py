import notify


def test_send():
    notify.send("hello")
