"""Clients of the monitoring stack (Prometheus, Alertmanager, Grafana)."""
