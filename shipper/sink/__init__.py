"""Elasticsearch/OpenSearch sink: pure encoder, pure bulk-response reader, template, one I/O module."""
