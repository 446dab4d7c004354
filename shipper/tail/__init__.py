"""Tailing job logs: discovery by glob, file identity, rotation, reading, checkpoints."""
