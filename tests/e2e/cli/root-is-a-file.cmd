analyze --root bad-format.cmd
