"""The HTTP service: 8x8's Work Analytics Historical contract, served with FastAPI."""
