"""cronwatch's compiled parts; everything else is declared in pyproject.toml.

``alerter._speedups`` computes Alertmanager's label-set fingerprint; ``shipper._speedups`` holds the
shipper's per-line hot paths: the decoder's one-line fast path, the reader's line split and the
encoding of bulk items. Both are optional: without a C compiler (and zlib's header) the
build skips them and the same work runs in Python (alerter/model.py, shipper/parse/fastpath.py,
shipper/runner.py, shipper/tail/reader.py), with the same output, only slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("shipper._speedups", ["shipper/_speedups.c"], libraries=["z"], optional=True),
    Extension("alerter._speedups", ["alerter/_speedups.c"], optional=True),
])
