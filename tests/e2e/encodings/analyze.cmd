analyze --policy strict --no-cache --root project
