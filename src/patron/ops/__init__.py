"""Running Patron in production: structured access logs, Prometheus metrics, health checks.

Low in the layering (beside the kit): any domain may report to it, it imports no domain."""
