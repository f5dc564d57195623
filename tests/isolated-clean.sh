#!/bin/sh
# tests/isolated-clean.sh - tests/isolated.sh through the clean zygote
# (tach-run --mode isolated): the same containment as a new interpreter.
TACH_ISOLATED_VIA=clean exec sh "$(dirname "$0")/isolated.sh"
