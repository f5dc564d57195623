import threading

_lock = threading.Lock()


def run():
    pass


def spawn():
    threading.Thread(target=run, daemon=True).start()


spawn()
