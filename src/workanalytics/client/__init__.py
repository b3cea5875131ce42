"""Clients of the HTTP service."""
