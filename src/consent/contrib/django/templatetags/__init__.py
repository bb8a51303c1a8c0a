"""The template tag library `consent` (``{% load consent %}``)."""
