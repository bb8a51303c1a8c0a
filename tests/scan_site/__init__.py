"""A deliberately leaky site for the cookie scanner's tests (see app.py)."""
