"""Bridges, veths and routes via pyroute2; IPAM; port publishing; DNS for container names."""
