"""The interview platform end to end: a real Strongroom server and the real
Flask app (its test client), reviewers of three roles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from strongroom import Client
from strongroom.testing import LocalServer

from .app import create_app
from .provision import MATTER, provision

ADMIN_PASSWORD = "correct horse battery staple 42"
REVIEWERS = {"rita": "reader", "ana": "analyst", "blair": "admin"}
PASSWORD = "lantern harbour violet 73"
ANSWER = "I led the migration at Initech; call me on +1 415 555 0100 or mail jo.candidate@example.com."
WHY = "calibrating the score of this answer, review HR-204"


@dataclass
class Platform:
    server: LocalServer
    app: FlaskClient
    interview: str

    def login(self, username: str) -> dict[str, str]:
        password = ADMIN_PASSWORD if username == "admin" else PASSWORD
        with Client(self.server.url) as client:
            return {"Authorization": f"Bearer {client.auth.login(username, password).access_token}"}


@pytest.fixture
def platform() -> Iterator[Platform]:
    with LocalServer() as server:
        server.init(ADMIN_PASSWORD)
        for username, role in REVIEWERS.items():
            server.create_user(username, PASSWORD, role)
        with Client(server.url) as admin:
            admin.auth.login("admin", ADMIN_PASSWORD)
            app_key = provision(admin, list(REVIEWERS))
            interview = admin.records.create(
                "candidate_interviews",
                matter=MATTER,
                fields={"position": "staff engineer", "score": 4.5, "answer": ANSWER, "candidate": "jo@example.com"},
            ).id
        yield Platform(server, create_app(server.url, app_key).test_client(), interview)


def test_each_role_sees_its_view_of_an_interview(platform: Platform) -> None:
    url = f"/interviews/{platform.interview}"
    assert platform.app.get(url).status_code == 401

    reader = platform.app.get(url, headers=platform.login("rita")).get_json()
    assert reader["fields"] == {"position": "staff engineer", "score": 4.5}
    assert set(reader["withheld"]) == {"answer", "candidate"}

    analyst = platform.app.get(url, headers=platform.login("ana")).get_json()
    assert analyst["redacted"] == ["answer"]
    assert analyst["fields"]["answer"] == "I led the migration at Initech; call me on [PHONE] or mail [EMAIL]."
    assert "jo.candidate@example.com" not in str(analyst) and analyst["withheld"] == ["candidate"]

    # Neither reader nor analyst reveals, whatever their justification.
    for username in ("rita", "ana"):
        refused = platform.app.post(f"{url}/reveal", json={"justification": WHY}, headers=platform.login(username))
        assert refused.status_code == 403
        assert refused.headers["Content-Type"] == "application/problem+json"


def test_a_reveal_needs_an_access_request_approved_by_a_second_admin(platform: Platform) -> None:
    blair, admin = platform.login("blair"), platform.login("admin")
    reveal = f"/interviews/{platform.interview}/reveal"
    # An admin too: the policy wants an approved request first.
    assert platform.app.post(reveal, json={"justification": WHY}, headers=blair).status_code == 403

    asked = platform.app.post(
        "/access-requests",
        json={"matter": MATTER, "interview": platform.interview, "justification": WHY},
        headers=blair,
    )
    assert asked.status_code == 201, asked.get_json()
    request_id = asked.get_json()["id"]
    assert platform.app.post("/access-requests", json={}, headers=platform.login("rita")).status_code == 403

    own = platform.app.post(f"/access-requests/{request_id}/approve", json={}, headers=blair)
    assert own.status_code == 403 and own.get_json()["code"] == "self_approval"
    assert [r["id"] for r in platform.app.get("/access-requests", headers=admin).get_json()] == [request_id]
    approved = platform.app.post(f"/access-requests/{request_id}/approve", json={"note": "ok, HR-204"}, headers=admin)
    assert approved.get_json()["status"] == "approved"

    assert platform.app.post(reveal, json={"justification": "because"}, headers=blair).status_code == 400
    revealed = platform.app.post(reveal, json={"justification": WHY}, headers=blair)
    assert revealed.status_code == 200, revealed.get_json()
    assert revealed.get_json()["fields"] == {"candidate": "jo@example.com", "answer": ANSWER}

    with Client(platform.server.url) as auditor:
        auditor.auth.login("admin", ADMIN_PASSWORD)
        reveals = [e.event for e in auditor.audit.events(action="record.decrypt", target=platform.interview)]
        assert any(e.get("justification") == WHY and e.get("result") == "success" for e in reveals)
        assert any(True for _ in auditor.audit.events(action="access_request.approve", limit=10))
