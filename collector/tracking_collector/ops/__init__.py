"""Ops: the background loops, Prometheus metrics, rate limits and health routes."""
