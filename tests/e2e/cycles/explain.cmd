explain --no-cache --root project d
