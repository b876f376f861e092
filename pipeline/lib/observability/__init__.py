"""Production observability: a Prometheus exporter and structured, secret-free logs."""
