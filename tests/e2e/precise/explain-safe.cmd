explain --no-cache --root project quiet
