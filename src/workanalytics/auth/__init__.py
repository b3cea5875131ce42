"""Passwords, API keys, access tokens and login throttling."""
