import queue
import threading

_outbox: "queue.Queue[str]" = queue.Queue()


def _drain():
    while True:
        _outbox.get()


_worker = threading.Thread(target=_drain, daemon=True)
_worker.start()


def send(message: str) -> None:
    _outbox.put(message)
