"""Applications whose consent settings are wrong, for tests/test_startup.py to serve."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware

from consent import ConsentMiddleware, Policy
from tests.conftest import POLICY_DATA

policy = Policy.model_validate(POLICY_DATA)
SHORT_KEY = "too-short"

starlette_app = Starlette(
    middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SHORT_KEY)]
)

fastapi_app = FastAPI()
fastapi_app.add_middleware(ConsentMiddleware, policy=policy, secret_key=SHORT_KEY)
