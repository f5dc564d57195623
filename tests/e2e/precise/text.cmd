analyze --no-cache --root project
