analyze --root ../chain/project extra
