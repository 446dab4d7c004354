"""Exceptions of the Elasticsearch/OpenSearch sink.

    CronwatchError
     └── ShipperError                  (shipper/errors.py)
          └── SinkError                the store cannot be used
               ├── StoreUnavailable    connection refused, timeout, 5xx/429 for the whole request (retried)
               ├── StoreRejected       the store refuses us for good: bad credentials at start-up,
               │                       not Elasticsearch/OpenSearch, unsupported version (not retried)
               └── BulkProtocolError   a bulk response that does not match the request (retried as a whole)
"""

from __future__ import annotations

from shipper.errors import ShipperError


class SinkError(ShipperError):
    """The Elasticsearch/OpenSearch store cannot be used."""


class StoreUnavailable(SinkError):
    """The store did not answer usefully this time (network error, timeout, 429 or 5xx); retry later."""


class StoreRejected(SinkError):
    """The store refuses the request for good (bad credentials, unsupported distribution or version)."""


class BulkProtocolError(SinkError):
    """A bulk response is malformed or does not match the request."""
