analyze -j 0
