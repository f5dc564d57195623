import signal
