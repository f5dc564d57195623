analyze --help
