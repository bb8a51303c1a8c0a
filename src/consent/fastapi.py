"""FastAPI: the visitor's consent as a dependency.

```python
from consent.fastapi import Consent

@app.get("/api/recommendations")
async def recommendations(consent: Consent) -> list[str]:
    return personalised() if consent.allows("personalisation") else popular()
```

`Consent` is ``Annotated[ConsentState, Depends(get_consent)]``; ``Depends(get_consent)``
works as well, in HTTP routes and WebSocket routes alike. Neither adds anything to the
OpenAPI schema: the consent comes from the signed cookie that `ConsentMiddleware` reads.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from consent.state import ConsentState
from consent.visit import get_consent

__all__ = ["Consent"]

Consent = Annotated[ConsentState, Depends(get_consent)]
"""The visitor's consent in a route's signature: ``async def view(consent: Consent)``."""
