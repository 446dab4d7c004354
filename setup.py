"""The one compiled part of cronwatch; everything else is declared in pyproject.toml.

``shipper._speedups`` holds the shipper's per-line hot paths in C: the decoder's one-line fast path
and the encoding of bulk items. It is optional: without a C compiler (and zlib's header) the build
skips it and the same work runs in Python (shipper/parse/fastpath.py, shipper/runner.py), with the
same output, only slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("shipper._speedups", ["shipper/_speedups.c"], libraries=["z"], optional=True)])
