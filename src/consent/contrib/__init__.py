"""Integrations with web frameworks that are optional extras (`asgi-consent[django]`)."""
