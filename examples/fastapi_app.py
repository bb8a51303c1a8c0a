"""The example news site as a FastAPI app: the same policy and middleware.

Run it with `.venv/bin/uvicorn examples.fastapi_app:app`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from consent import ConsentMiddleware, ConsentState, get_consent, load_policy

policy = load_policy(Path(__file__).parent / "consent.toml")
SECRET_KEY = os.environ.get("CONSENT_SECRET_KEY", "demo-only-key-change-me-0123456789abcdef")

app = FastAPI(title="Example News API")
app.add_middleware(ConsentMiddleware, policy=policy, secret_key=SECRET_KEY)


def consent(request: Request) -> ConsentState:
    """A FastAPI dependency giving the visitor's consent."""
    return get_consent(request)


@app.get("/api/articles")
async def articles(state: Annotated[ConsentState, Depends(consent)]) -> dict[str, Any]:
    return {
        "articles": [{"id": 1, "title": "India and Japan agree a joint vision"}],
        "personalised": state.allows("marketing"),
        "consent": state.to_json(),
    }
