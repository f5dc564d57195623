hv frob
