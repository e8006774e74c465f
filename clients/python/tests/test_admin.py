"""The administrative areas through an admin's session: users and sessions,
API keys, roles, access requests, matters' keys and their jobs."""

from __future__ import annotations

import pytest

from strongroom import Client
from strongroom.errors import (
    Conflict,
    Forbidden,
    InvalidPolicy,
    InvalidRequest,
    NotFound,
    SelfApproval,
    Unauthenticated,
)
from strongroom.testing import LocalServer

from .conftest import ADMIN_PASSWORD

WHY = "ticket OPS-1234: onboarding the new paralegal"
BOB_PASSWORD = "a long and unguessable passphrase 7"


@pytest.fixture
def admin(server: LocalServer) -> Client:
    server.init(ADMIN_PASSWORD)
    client = Client(server.url)
    client.auth.login("admin", ADMIN_PASSWORD)
    return client


def test_users_and_sessions(server: LocalServer, admin: Client) -> None:
    with admin:
        bob = admin.users.create("bob", email="bob@example.test", roles=["reader"], password=BOB_PASSWORD)
        assert bob.username == "bob" and bob.roles == ("reader",) and bob.principal == f"user:{bob.id}"
        assert admin.users.get(bob.id) == bob and "bob" in [u.username for u in admin.users.list()]
        assert admin.users.update(bob.id, full_name="Bob B.").full_name == "Bob B."
        assert admin.users.set_roles(bob.id, ["analyst"], justification=WHY).roles == ("analyst",)
        with pytest.raises(InvalidRequest):
            admin.users.create("bob2", email="b2@example.test", roles=["reader"], password="short")

        with Client(server.url) as bobs:
            bobs.auth.login("bob", BOB_PASSWORD)
            mine = bobs.sessions.list()
            assert len(mine) == 1 and mine[0].current and mine[0].user_id == bob.id
            assert [s.id for s in admin.sessions.list(user="bob")] == [mine[0].id]
            assert admin.users.lock(bob.id, reason="suspicious logins from a new country").locked
            with pytest.raises(Unauthenticated):
                bobs.auth.me()
        assert not admin.users.unlock(bob.id).locked

        reset = admin.users.issue_password_reset(bob.id)
        assert reset.reset_token and reset.reset_token not in repr(reset)
        assert admin.users.issue_mfa_enrollment(bob.id)
        assert admin.users.revoke_sessions(bob.id)["revoked"] == 0

        current = next(s for s in admin.sessions.list() if s.current)
        admin.sessions.revoke(current.id)
        with pytest.raises(Unauthenticated):
            admin.auth.me()


def test_api_keys_are_issued_rotated_and_revoked(server: LocalServer, admin: Client) -> None:
    with admin:
        issued = admin.api_keys.create("billing", scopes=["transit:use", "transit:manage"], rate_limit_per_minute=600)
        assert issued.secret.startswith(f"sr_{issued.key.id}_") and issued.secret not in repr(issued)
        assert issued.key.scopes == ("transit:use", "transit:manage") and issued.key.principal.startswith("api_key:")
        assert issued.key.id in [k.id for k in admin.api_keys.list()]
        with Client(server.url, api_key=issued.secret) as service:
            service.transit.create_key("invoices")
            rotated = admin.api_keys.rotate(issued.key.id)
            assert rotated.secret != issued.secret and rotated.key.id == issued.key.id
            with pytest.raises(Unauthenticated):
                service.transit.encrypt("invoices", b"x")
        with Client(server.url, api_key=rotated.secret) as service:
            assert service.transit.encrypt("invoices", b"x").startswith("vault:v1:")
            admin.api_keys.revoke(issued.key.id)
            with pytest.raises(Unauthenticated):
                service.transit.encrypt("invoices", b"x")


def test_roles_of_the_operators_own(admin: Client) -> None:
    with admin:
        assert {"reader", "analyst", "admin"} <= {r.name for r in admin.roles.list()}
        made = admin.roles.create(
            "paralegal", permissions=["record.read", "record.write"], justification=WHY, description="Case support"
        )
        assert made.source == "api" and set(made.permissions) == {"record.read", "record.write"}
        assert admin.roles.get("paralegal") == made
        changed = admin.roles.replace("paralegal", permissions=["record.read"], justification=WHY)
        assert changed.permissions == ("record.read",)
        admin.roles.delete("paralegal", justification=WHY)
        with pytest.raises(NotFound):
            admin.roles.get("paralegal")


def test_access_requests_are_decided_by_someone_else(server: LocalServer, admin: Client) -> None:
    with admin:
        bob = admin.users.create("bob", email="bob@example.test", roles=["analyst"], password=BOB_PASSWORD)
        matter = admin.matters.create("Case 17", id="case-17")
        admin.matters.grant(matter.id, bob.principal, justification="bob works on case 17 from today")
        with Client(server.url) as bobs:
            bobs.auth.login("bob", BOB_PASSWORD)
            asked = bobs.access_requests.create(
                "record.decrypt", matter.id, duration_minutes=30, justification="deposition prep needs the originals"
            )
            assert asked.status == "pending" and asked.requester == bob.principal
            assert asked.id in [r.id for r in admin.access_requests.list()]
            with pytest.raises(Forbidden):
                bobs.access_requests.approve(asked.id)
            approved = admin.access_requests.approve(asked.id, note="ok for the deposition")
            assert approved.status == "approved" and approved.expires_at and approved.note == "ok for the deposition"
            assert bobs.access_requests.get(asked.id).status == "approved"
            again = bobs.access_requests.create(
                "record.export", matter.id, duration_minutes=10, justification="an export for the opposing counsel"
            )
            assert admin.access_requests.deny(again.id, note="not without a court order").status == "denied"
        # An admin asking for themself cannot approve their own request.
        own = admin.access_requests.create(
            "record.decrypt", matter.id, duration_minutes=5, justification="an admin wants to look at the matter"
        )
        with pytest.raises(SelfApproval):
            admin.access_requests.approve(own.id)


def test_a_matter_key_rotates_and_its_rewrap_job_finishes(server: LocalServer, admin: Client) -> None:
    with admin:
        admin.collections.create("notes", fields=[{"name": "body", "type": "text", "sensitivity": "secret"}])
        admin.matters.create("Case 9", id="case-9")
        for n in range(3):
            admin.records.create("notes", matter="case-9", fields={"body": f"note {n}"})
        key = admin.keys.get("matter.case-9")
        assert key.purpose and key.latest_version == 1 and "matter.case-9" in [k.name for k in admin.keys.list()]
        rotated = admin.keys.rotate("matter.case-9")
        assert rotated.latest_version == 2 and rotated.jobs and rotated.jobs[0].kind == "rewrap"
        job = admin.jobs.wait(rotated.jobs[0].id, timeout=60, interval=0.1)
        assert job.state == "done" and job.finished and job.total == 3
        configured = admin.keys.configure("matter.case-9", min_decryption_version=2)
        assert configured.min_decryption_version == 2
        with pytest.raises((Conflict, InvalidRequest)):
            admin.keys.configure("matter.case-9", min_decryption_version=1)
        changed = admin.keys.set_state("matter.case-9", "decrypt_only", justification=WHY)
        assert changed.key.state == "decrypt_only"


def test_legal_hold_and_a_data_subjects_export_and_erasure(admin: Client) -> None:
    with admin:
        admin.collections.create("intake", fields=[{"name": "email", "type": "string", "sensitivity": "secret"}])
        admin.matters.create("Case 5", id="case-5")
        kept = admin.records.create("intake", matter="case-5", fields={"email": "ada@example.test"}, subject="ada")
        gone = admin.records.create("intake", matter="case-5", fields={"email": "ada@work.test"}, subject="ada")
        admin.records.create("intake", matter="case-5", fields={"email": "bob@example.test"}, subject="bob")
        assert admin.records.hold(
            "intake", kept.id, justification="litigation hold for case 5 (court order)"
        ).legal_hold
        with pytest.raises(Conflict):
            admin.records.delete("intake", kept.id)

        exported = admin.records.export_subject(
            "ada", justification="subject access request SAR-77", purpose="subject_request"
        )
        assert sorted(r.fields["email"] for r in exported) == ["ada@example.test", "ada@work.test"]
        assert "ada@" not in repr(exported)
        erased = admin.records.erase_subject("ada", justification="erasure request ER-9 from the data subject")
        assert erased.erased == ({"collection": "intake", "id": gone.id},)
        assert erased.held == ({"collection": "intake", "id": kept.id},)
        with pytest.raises(NotFound):
            admin.records.get("intake", gone.id)
        assert admin.records.get("intake", kept.id).legal_hold


def test_policies_and_explanations(admin: Client) -> None:
    with admin:
        before = admin.policies.get()
        assert before.version == 0 and before.loaded and before.api_document == ""
        with pytest.raises(InvalidPolicy) as invalid:
            admin.policies.replace("permit (principal, action, resource) when { nonsense };", justification=WHY)
        assert invalid.value.problem["errors"] and admin.policies.get().version == 0
        noop = '@id("never") forbid (principal, action, resource) when { false };'
        after = admin.policies.replace(noop, justification=WHY)
        assert after.version == 1 and after.api_document == noop

        bob = admin.users.create("bob", email="bob@example.test", roles=["reader"], password=BOB_PASSWORD)
        admin.matters.create("Case 3", id="case-3")
        admin.matters.grant("case-3", bob.principal, justification="bob reads case 3 from today on")
        resource = {"type": "matter", "id": "case-3"}
        assert admin.authz.explain(bob.principal, "record.read", resource).allowed
        refused = admin.authz.explain(bob.principal, "record.decrypt", resource, context={"purpose": "case_work"})
        assert not refused.allowed and refused.decision == "deny"
        who = admin.authz.who_can("record.read", "case-3")
        assert bob.principal in [p["principal"]["principal"] for p in who.principals]
