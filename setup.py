"""The one compiled part of cronwatch; everything else is declared in pyproject.toml.

``shipper.parse._fastrun`` is the decoder's one-line fast path in C. It is optional: without a C
compiler the build skips it and the same work runs in Python (generated per input by
shipper/parse/fastpath.py), with the same output, only slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("shipper.parse._fastrun", ["shipper/parse/_fastrun.c"], optional=True)])
