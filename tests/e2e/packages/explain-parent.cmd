explain --no-cache --root project lib.net.client
