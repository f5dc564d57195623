x = 1

import signal
