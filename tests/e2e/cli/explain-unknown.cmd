explain --no-cache --root ../chain/project no.such.module
