"""Legal transcription: attorneys and paralegals upload privileged audio per
matter, a worker transcribes it, an attorney exports the transcript.

    STRONGROOM_URL=http://127.0.0.1:8200 STRONGROOM_APP_KEY=sr_… uvicorn legal_transcription.app:app

The app holds no password, no key and no ciphertext. Callers log in at
Strongroom (``POST /token``, with ``totp`` for attorneys) and send the access
token here; ``StrongroomBearer`` verifies it and Strongroom confirms the
session, roles and matters. Data calls go to Strongroom *as the caller*
(``user.token``), so its policies decide what each person may read, write or
reveal, and every access lands in its audit log under their name. The app's
own key may only introspect tokens and write the app's audit events.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints'
# annotations, and the aliases below live inside create_app.
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from strongroom import AsyncClient
from strongroom.authenticated import AuthenticatedUser
from strongroom.errors import ProblemError
from strongroom.fastapi import StrongroomBearer

COLLECTION = "recordings"  # built in: title, audio (secret blob), transcript (redacted), status…
PURPOSE = "case_work"  # one of the server's authz.purposes


class Export(BaseModel):
    justification: str = Field(min_length=20)


def create_app(url: str, app_key: str) -> FastAPI:
    strongroom = AsyncClient(url, api_key=app_key)  # scopes: auth:introspect, audit:write
    current_user = StrongroomBearer(strongroom, max_staleness=5.0)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await strongroom.aclose()

    app = FastAPI(title="Legal transcription", lifespan=lifespan)

    # Who may call what: a grant on the matter in the path, or the role's permission on it.
    OnMatter = Annotated[AuthenticatedUser, Depends(current_user.require_matter("matter_id"))]
    MayWrite = Annotated[
        AuthenticatedUser, Depends(current_user.require_permission("record.write", matter_param="matter_id"))
    ]
    MayExport = Annotated[
        AuthenticatedUser, Depends(current_user.require_permission("record.export", matter_param="matter_id"))
    ]

    @app.exception_handler(ProblemError)
    async def refused(_: Request, error: ProblemError) -> JSONResponse:
        """Strongroom's refusals (403 naming the policy, 404…) reach the caller as they are."""
        return JSONResponse(error.problem, error.status, media_type="application/problem+json")

    def as_caller(user: AuthenticatedUser) -> AsyncClient:
        """Strongroom on the caller's behalf: their roles, grants and name.
        One client per request, so no state (a cookie, a credential) is ever shared between callers."""
        return AsyncClient(url, token=user.token)

    @app.get("/matters/{matter_id}/recordings")
    async def recordings(matter_id: str, user: OnMatter) -> list[dict[str, Any]]:
        async with as_caller(user) as sr:
            return [{"id": r.id, **r.fields} async for r in sr.records.list(COLLECTION, matter=matter_id)]

    @app.post("/matters/{matter_id}/recordings", status_code=201)
    async def upload(
        matter_id: str,
        title: str,
        request: Request,
        user: MayWrite,
    ) -> dict[str, str]:
        """The audio is the request body, streamed to Strongroom as it arrives
        (encrypted there, never on this app's disk)."""
        async with as_caller(user) as sr:
            fields = {"title": title, "status": "uploaded"}
            record = await sr.records.create(COLLECTION, matter=matter_id, fields=fields)
            content_type = request.headers.get("content-type", "application/octet-stream")
            await sr.blobs.upload(COLLECTION, record.id, "audio", request.stream(), content_type=content_type)
        return {"id": record.id}

    @app.get("/matters/{matter_id}/recordings/{recording_id}")
    async def recording(matter_id: str, recording_id: str, user: OnMatter) -> dict[str, Any]:
        """The caller's view: paralegals see the transcript redacted, nobody sees it in clear here."""
        async with as_caller(user) as sr:
            record = await sr.records.get(COLLECTION, recording_id)
        return {"id": record.id, "fields": record.fields, "withheld": record.withheld_fields}

    @app.post("/matters/{matter_id}/recordings/{recording_id}/export")
    async def export(
        matter_id: str,
        recording_id: str,
        body: Export,
        user: MayExport,
    ) -> Response:
        """The transcript in clear, as a download: revealed as the attorney
        (audited with their justification), then the export itself logged."""
        async with as_caller(user) as sr:
            plain = await sr.records.decrypt(
                COLLECTION, recording_id, ["transcript"], reason=body.justification, purpose=PURPOSE
            )
        await strongroom.audit.log(
            "app.transcript.exported",
            target=("recording", recording_id),
            on_behalf_of=user.id,
            details={"matter": matter_id, "format": "text/plain"},
        )
        return Response(
            plain["transcript"],
            media_type="text/plain",
            headers={"Content-Disposition": f'attachment; filename="{recording_id}.txt"'},
        )

    return app


def __getattr__(name: str) -> FastAPI:
    """``uvicorn legal_transcription.app:app`` builds the app from the environment."""
    if name == "app":
        return create_app(os.environ["STRONGROOM_URL"], os.environ["STRONGROOM_APP_KEY"])
    raise AttributeError(name)
