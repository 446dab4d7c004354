"""cronwatch scheduler."""
