analyze --root project --format json --no-cache -j 2
