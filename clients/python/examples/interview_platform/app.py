"""An interview platform: reviewers read candidates' interviews at the
level their role allows, and a reveal of what a candidate said needs a
justification and an access request approved by a second administrator.

    STRONGROOM_URL=http://127.0.0.1:8080 STRONGROOM_APP_KEY=sr_… flask --app interview_platform.app run

Reviewers log in at Strongroom and send their access token. The views are
Strongroom's, asked as the reviewer: a ``reader`` gets the public fields, an
``analyst`` also the answer's redacted rendition, an ``admin`` the same plus
the right to reveal, which the server's policy (see ``provision.py``)
allows only under an approved access request.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from strongroom import Client
from strongroom.errors import ProblemError
from strongroom.flask import StrongroomAuth, current_user, require_auth

COLLECTION = "candidate_interviews"  # made by provision.py
PURPOSE = "quality_review"  # one of the server's authz.purposes


def create_app(url: str, app_key: str) -> Flask:
    app = Flask(__name__)
    StrongroomAuth(app, Client(url, api_key=app_key), max_staleness=5.0)  # the key's scope: auth:introspect

    def as_reviewer() -> Client:
        """Strongroom on the reviewer's behalf: their role, grants and name in the audit log.
        One client per request, so no state is ever shared between reviewers."""
        return Client(url, token=current_user.token)

    @app.errorhandler(ProblemError)
    def refused(error: ProblemError) -> ResponseReturnValue:
        """Strongroom's refusals (403 with the policy, 404, 400…) reach the reviewer as they are."""
        return jsonify(error.problem), error.status, {"Content-Type": "application/problem+json"}

    @app.get("/interviews/<interview_id>")
    @require_auth
    def interview(interview_id: str) -> dict[str, Any]:
        with as_reviewer() as sr:
            record = sr.records.get(COLLECTION, interview_id)
        return {"fields": record.fields, "redacted": record.redacted_fields, "withheld": record.withheld_fields}

    @app.post("/interviews/<interview_id>/reveal")
    @require_auth
    def reveal(interview_id: str) -> dict[str, Any]:
        with as_reviewer() as sr:
            fields = sr.records.decrypt(
                COLLECTION, interview_id, ["candidate", "answer"], reason=_body()["justification"], purpose=PURPOSE
            )
        return {"fields": fields}

    @app.post("/access-requests")
    @require_auth(roles=["admin", "analyst"])
    def ask() -> ResponseReturnValue:
        body = _body()
        with as_reviewer() as sr:
            asked = sr.access_requests.create(
                "record.decrypt",
                body["matter"],
                record=body.get("interview"),
                duration_minutes=30,
                justification=body["justification"],
            )
        return {"id": asked.id, "status": asked.status}, 201

    @app.get("/access-requests")
    @require_auth(roles=["admin"])
    def pending() -> list[dict[str, Any]]:
        with as_reviewer() as sr:
            return [
                {"id": r.id, "requester": r.requester_name, "justification": r.justification}
                for r in sr.access_requests.list()
                if r.status == "pending"
            ]

    @app.post("/access-requests/<request_id>/approve")
    @require_auth(roles=["admin"])
    def approve(request_id: str) -> dict[str, str]:
        """Strongroom refuses an admin's approval of their own request (403 ``self_approval``)."""
        with as_reviewer() as sr:
            decided = sr.access_requests.approve(request_id, note=_body().get("note"))
        return {"id": decided.id, "status": decided.status}

    return app


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def __getattr__(name: str) -> Flask:
    """``flask --app interview_platform.app run`` builds the app from the environment."""
    if name == "app":
        return create_app(os.environ["STRONGROOM_URL"], os.environ["STRONGROOM_APP_KEY"])
    raise AttributeError(name)
