analyze --format xml
