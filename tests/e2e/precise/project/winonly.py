import os
import sys

WIN = sys.platform.startswith("win")

if WIN:
    import torch
    import ctypes
    ctypes.CDLL("kernel32.dll")
elif os.name == "nt":
    import subprocess
    subprocess.run(["cmd"])

if sys.platform != "win32" and __name__ == "__main__":
    import socket
    socket.create_connection(("example.com", 80))
