"""Operational tooling: dependencies, set-up, config rendering, the supervised stack, logs, tests.

Every module here is run from the project root (the Makefile's directory) and
does nothing at import time.
"""
