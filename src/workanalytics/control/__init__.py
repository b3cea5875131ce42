"""The control plane: customers, PBXs, users, API keys, entitlements."""
