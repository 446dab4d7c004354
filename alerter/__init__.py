"""cronwatch alerter."""
