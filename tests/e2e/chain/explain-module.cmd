explain --no-cache --root project auth
