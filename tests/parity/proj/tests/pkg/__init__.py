"""A package of tests: with --doctest-modules pytest collects its __init__.py,
which collects the whole package; each file's errors stay its own."""
