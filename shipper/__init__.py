"""cronwatch shipper."""
