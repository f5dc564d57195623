explain --no-cache --root project conftest
