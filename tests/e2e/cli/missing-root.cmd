analyze --root does-not-exist
