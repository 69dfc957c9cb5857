"""The experiment's settings, imported by name."""

WIDTH = 64
DEPTH = 4
