import vendored
