explain --policy strict --no-cache --root project lib.net.client
