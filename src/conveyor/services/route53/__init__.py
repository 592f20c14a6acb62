"""Route 53: hosted zones, record sets, health checks and the DNS server that answers for them."""
