"""A backend that keeps customers' e-mail addresses, serving partner
systems that call it with API keys.

    STRONGROOM_URL=… STRONGROOM_APP_KEY=… BLIND_INDEX_KEY=… DATABASE_URL=sqlite:///customers.db \
        uvicorn backend.app:app

The partners' keys are Strongroom *application keys* (scopes ``app:…``):
issued, expired, rate-limited, rotated and revoked by Strongroom, checked
here by introspection. They open nothing in Strongroom itself.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints'
# annotations, and the aliases below live inside create_app.
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.models import Introspection
from strongroom.sqlalchemy import blind

from .models import customer_model
from .settings import Settings


class NewCustomer(BaseModel):
    name: str
    email: str


def create_app(settings: Settings) -> FastAPI:
    strongroom = settings.client()  # may introspect, and wrap/unwrap the column's data keys
    Customer = customer_model(settings.column_keys())
    engine = settings.engine()
    app = FastAPI(title="Customers backend")

    def partner_with(scope: str) -> Any:
        """A caller presenting an application key that holds ``scope``, live now."""

        def check(x_api_key: Annotated[str | None, Header()] = None) -> Introspection:
            answer = strongroom.auth.introspect(x_api_key) if x_api_key else None
            if answer is None or not answer.active or not answer.extra.get("application_key"):
                raise HTTPException(401, "an active application key is needed", {"WWW-Authenticate": "ApiKey"})
            if scope not in answer.scopes:
                raise HTTPException(403, f"this key lacks the scope {scope}")
            return answer

        return Depends(check)

    Reader = Annotated[Introspection, partner_with("app:customers.read")]
    Writer = Annotated[Introspection, partner_with("app:customers.write")]

    @app.get("/customers")
    def find(email: str, partner: Reader) -> list[dict[str, Any]]:
        with Session(engine) as db:
            found = db.scalars(select(Customer).where(Customer.email_index == blind(Customer.email_index, email)))
            return [{"id": c.id, "name": c.name, "email": c.email} for c in found]

    @app.post("/customers", status_code=201)
    def add(customer: NewCustomer, partner: Writer) -> dict[str, int]:
        with Session(engine) as db:
            row = Customer(name=customer.name, email=customer.email)
            db.add(row)
            db.commit()
            return {"id": row.id}

    return app


def __getattr__(name: str) -> FastAPI:
    """``uvicorn backend.app:app`` builds the app from the environment."""
    if name == "app":
        return create_app(Settings.from_environment())
    raise AttributeError(name)
