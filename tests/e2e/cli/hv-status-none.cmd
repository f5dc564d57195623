hv status --root /nonexistent-tach-dir
