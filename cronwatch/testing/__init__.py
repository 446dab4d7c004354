"""Real services for tests, benchmarks and the demo, each on a free loopback port.

``services`` starts osmem-server, Prometheus, Alertmanager, redis-server and an aiosmtpd SMTP
server as child processes (or, for SMTP, a thread) and stops them again.
"""
