explain --no-cache --root project models
