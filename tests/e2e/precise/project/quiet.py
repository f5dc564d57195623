import ctypes
import signal
import socket
import subprocess
import threading

LOCK = threading.RLock()
DONE = threading.Event()
_t = threading.Thread(target=print)


def go():
    subprocess.run(["true"])
    return socket.socket()


def on_term(*args):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
