# -*- coding: unicode_escape -*-
x = 1  # \nimport subprocess
