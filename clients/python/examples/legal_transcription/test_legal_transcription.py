"""The legal-transcription flow end to end: a real Strongroom server, the
real app (FastAPI's TestClient) and the real worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from strongroom import Client
from strongroom.errors import MfaRequired
from strongroom.testing import LocalServer

from . import provision
from .app import create_app
from .worker import transcribe_pending

ADMIN_PASSWORD = "correct horse battery staple 42"
PASSWORDS = {"ada": "violet harbour lantern 73", "pat": "quiet copper meadow 19", "otto": "amber canal at dusk 9"}
MATTER = "smith-v-jones"
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 64
SPOKEN = "Counsel: Mr. Smith, please state your email. Witness: john.smith@example.com."


@dataclass
class Firm:
    server: LocalServer
    app: TestClient
    worker_key: str


@pytest.fixture
def firm() -> Iterator[Firm]:
    # Attorneys must use a second factor: the server enforces it at login.
    with LocalServer(identity_mfa_required_roles="attorney") as server:
        server.init(ADMIN_PASSWORD)
        with Client(server.url) as admin:
            admin.auth.login("admin", ADMIN_PASSWORD)
            provision.define_roles(admin)
            app_key, worker_key = provision.issue_keys(admin)
            for username, role in (("ada", "attorney"), ("pat", "paralegal"), ("otto", "attorney")):
                server.create_user(username, PASSWORDS[username], role)
            provision.open_matter(admin, MATTER, "Smith v. Jones", ["ada", "pat"])  # otto is not on it
        with TestClient(create_app(server.url, app_key)) as app:
            yield Firm(server, app, worker_key)


def enrol_totp(url: str, username: str) -> pyotp.TOTP:
    """What an attorney does once, in the dashboard or the firm's login page:
    the first login answers an enrolment token instead of tokens."""
    with Client(url) as client:
        with pytest.raises(MfaRequired) as refused:
            client.auth.login(username, PASSWORDS[username])
        started = client.auth.enroll_totp(refused.value.problem["enrollment_token"])
        totp = pyotp.parse_uri(started.otpauth_uri)
        assert isinstance(totp, pyotp.TOTP)
        assert started.qr_png.startswith(b"\x89PNG")
        recovery = client.auth.confirm_totp(totp.at(time.time() - 30), started.enrollment_token)
        assert len(recovery) == 10
    return totp


def login(url: str, username: str, totp: pyotp.TOTP | None = None) -> dict[str, str]:
    """OAuth2's password form at Strongroom's ``/token``, ``totp`` beside it."""
    form = {"username": username, "password": PASSWORDS[username]}
    if totp is not None:
        form["totp"] = totp.now()
    answer = httpx.post(f"{url}/token", data=form)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_upload_transcribe_and_an_audited_export(firm: Firm) -> None:
    url = firm.server.url
    # A password alone does not log an attorney in.
    assert httpx.post(f"{url}/token", data={"username": "ada", "password": PASSWORDS["ada"]}).status_code >= 400
    ada = login(url, "ada", enrol_totp(url, "ada"))
    pat = login(url, "pat")

    uploaded = firm.app.post(
        f"/matters/{MATTER}/recordings",
        params={"title": "Deposition of J. Smith"},
        content=AUDIO,
        headers={**pat, "Content-Type": "audio/wav"},
    )
    assert uploaded.status_code == 201, uploaded.text
    recording = uploaded.json()["id"]

    heard: list[bytes] = []

    def speech_to_text(audio: bytes) -> str:
        heard.append(audio)
        return SPOKEN

    with Client(url, api_key=firm.worker_key) as worker:
        assert transcribe_pending(worker, speech_to_text) == [recording]
    assert heard == [AUDIO]

    # The paralegal sees the transcript redacted; its plaintext is not in any plain read.
    seen = firm.app.get(f"/matters/{MATTER}/recordings/{recording}", headers=pat).json()
    assert seen["fields"]["status"] == "transcribed"
    assert "john.smith@example.com" not in str(seen) and "[EMAIL]" in str(seen["fields"]["transcript"])
    missing = firm.app.get(f"/matters/{MATTER}/recordings/r_0000000000000000000000", headers=pat)
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    listed = firm.app.get(f"/matters/{MATTER}/recordings", headers=pat).json()
    assert [r["id"] for r in listed] == [recording]

    # Only attorneys export, with a justification, and the export is in the audit log.
    refused = firm.app.post(f"/matters/{MATTER}/recordings/{recording}/export", json={"justification": "x" * 30})
    assert refused.status_code == 401
    justification = {"justification": "client asked for the deposition transcript, ticket L-88"}
    assert (
        firm.app.post(f"/matters/{MATTER}/recordings/{recording}/export", json=justification, headers=pat).status_code
        == 403
    )
    exported = firm.app.post(f"/matters/{MATTER}/recordings/{recording}/export", json=justification, headers=ada)
    assert exported.status_code == 200, exported.text
    assert exported.text == SPOKEN

    with Client(url) as auditor:
        auditor.auth.login("admin", ADMIN_PASSWORD)
        ada_id = next(u.id for u in auditor.users.list() if u.username == "ada")
        events = {e.type: e.event for e in auditor.audit.events(target=recording, limit=100)}
    assert events["app.transcript.exported"]["on_behalf_of"] == ada_id
    assert events["record.decrypt"]["justification"] == justification["justification"]


def test_an_attorney_without_the_matter_is_refused(firm: Firm) -> None:
    url = firm.server.url
    otto = login(url, "otto", enrol_totp(url, "otto"))
    assert firm.app.get(f"/matters/{MATTER}/recordings", headers=otto).status_code == 404
    upload = firm.app.post(f"/matters/{MATTER}/recordings", params={"title": "x"}, content=AUDIO, headers=otto)
    assert upload.status_code in (403, 404)
