analyze --policy strict --root project --format json --no-cache -j 2
