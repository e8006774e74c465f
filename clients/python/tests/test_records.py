"""Collections, matters and records through the client, against a real server."""

from __future__ import annotations

import asyncio

import pytest

from strongroom import AsyncClient, Client
from strongroom.errors import BadRequest, NotFound
from strongroom.models import Collection, Record
from strongroom.testing import LocalServer

REASON = "support ticket 4711: the customer asked for their address"

FIELDS = [
    {"name": "title", "type": "string", "sensitivity": "public", "required": True},
    {"name": "email", "type": "string", "sensitivity": "secret", "pii": "email", "searchable": True},
    {"name": "notes", "type": "text", "sensitivity": "redacted"},
]


def principal_of(key: str) -> str:
    """``api_key:<id>`` for a key ``sr_<id>_<secret>``."""
    return "api_key:" + key.split("_")[1]


def service(server: LocalServer) -> tuple[Client, str]:
    """A client whose key manages collections and matters, reveals, and
    holds a grant on matter ``m-1`` (the one its creator gets)."""
    key = server.api_key("collections:manage", "matters:manage", "records:decrypt")
    client = Client(server.url, api_key=key)
    client.matters.create("Matter one", id="m-1")
    assert [g.principal for g in client.matters.grants("m-1")] == [principal_of(key)]
    return client, key


def test_a_collection_is_declared_read_and_listed(server: LocalServer) -> None:
    with Client(server.url, api_key=server.api_key("collections:manage")) as client:
        made = client.collections.create("contacts", fields=FIELDS, default_ttl_seconds=3600, track_access=True)
        assert isinstance(made, Collection) and made.name == "contacts" and made.revision == 1
        assert made.default_ttl_seconds == 3600 and made.track_access
        assert made.get_field("email").searchable and made.get_field("email").encrypted
        assert not made.get_field("title").encrypted
        assert client.collections.get("contacts") == made
        assert "contacts" in [c.name for c in client.collections.list()]
        with pytest.raises(NotFound):
            client.collections.get("no_such_collection")


def test_records_are_written_read_listed_revealed_and_deleted(server: LocalServer) -> None:
    client, key = service(server)
    with client:
        client.collections.create("contacts", fields=FIELDS)
        record = client.records.create(
            "contacts",
            matter="m-1",
            fields={"title": "Ada", "email": "Ada@Example.test", "notes": "call ada@example.test"},
            subject="user-17",
            ttl=600,
        )
        assert isinstance(record, Record) and record.id.startswith("r_") and record.matter == "m-1"
        assert record.expires_at is not None
        # The caller's view: public values and redacted renditions, never the secret.
        seen = client.records.get("contacts", record.id)
        assert seen.fields["title"] == "Ada" and "email" in seen.withheld_fields
        assert "Ada@Example.test" not in repr(seen)
        assert client.records.decrypt("contacts", record.id, ["email"], reason=REASON, purpose="case_work") == {
            "email": "Ada@Example.test"
        }
        with pytest.raises(BadRequest):
            client.records.decrypt("contacts", record.id, ["email"], reason="too short", purpose="case_work")

        changed = client.records.update("contacts", record.id, {"title": "Ada L."})
        assert changed.fields["title"] == "Ada L." and changed.updated_at >= record.updated_at

        for n in range(4):
            client.records.create("contacts", matter="m-1", fields={"title": f"t{n}", "email": f"p{n}@example.test"})
        # Five records in pages of two: the iterator follows next_cursor (oldest
        # first by the second; ties in id order, so not necessarily as created).
        listed = list(client.records.list("contacts", matter="m-1", limit=2))
        assert len(listed) == 5 and len({r.id for r in listed}) == 5 and record.id in {r.id for r in listed}
        # A searchable encrypted field matches through its blind index, normalised.
        found = list(client.records.list("contacts", where="email:  ada@example.TEST "))
        assert [r.id for r in found] == [record.id]
        assert [r.fields["title"] for r in client.records.list("contacts", where="title:t2")] == ["t2"]

        client.records.delete("contacts", record.id)
        with pytest.raises(NotFound) as gone:
            client.records.get("contacts", record.id)
        assert gone.value.request_id
        assert len(list(client.records.list("contacts"))) == 4


def test_matters_and_grants(server: LocalServer) -> None:
    key = server.api_key("matters:manage")
    other = server.api_key("transit:use", name="other")
    with Client(server.url, api_key=key) as client:
        matter = client.matters.create("Estate of J. Doe")
        assert matter.id and matter.name == "Estate of J. Doe" and matter.created_by.startswith("api_key:")
        assert client.matters.get(matter.id) == matter
        assert matter.id in [m.id for m in client.matters.list()]
        grant = client.matters.grant(matter.id, principal_of(other), justification="the other service needs it now")
        assert grant.principal == principal_of(other) and grant.matter == matter.id
        assert principal_of(other) in [g.principal for g in client.matters.grants(matter.id)]
        client.matters.revoke(matter.id, principal_of(other), justification="the other service is done with it")
        assert [g.principal for g in client.matters.grants(matter.id)] == [principal_of(key)]


def test_the_async_client_iterates_records_page_by_page(server: LocalServer) -> None:
    key = server.api_key("collections:manage", "matters:manage")

    async def run() -> list[str]:
        async with AsyncClient(server.url, api_key=key) as client:
            title = {"name": "title", "type": "string", "sensitivity": "public"}
            await client.collections.create("notes", fields=[title])
            await client.matters.create("M", id="m-a")
            for n in range(3):
                await client.records.create("notes", matter="m-a", fields={"title": f"n{n}"})
            return [r.fields["title"] async for r in client.records.list("notes", limit=1)]

    assert sorted(asyncio.run(run())) == ["n0", "n1", "n2"]


def test_ids_cannot_steer_a_request_to_another_route(server: LocalServer) -> None:
    client, _ = service(server)
    with client:
        client.collections.create("contacts", fields=FIELDS)
        # An id from the application's own user is one path segment, whatever it holds.
        for hostile in ("../../../users", "x?list=true", "a/b", "%2e%2e"):
            with pytest.raises(NotFound):
                client.records.get("contacts", hostile)
        for dots in ("..", ".", ""):
            with pytest.raises(ValueError):
                client.records.get("contacts", dots)
