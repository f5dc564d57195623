name = "café"
import os
