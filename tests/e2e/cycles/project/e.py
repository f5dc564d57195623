import f
