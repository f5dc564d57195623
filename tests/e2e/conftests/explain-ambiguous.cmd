explain --policy strict --no-cache --root project conftest
