-- Operator-defined roles (docs/authorization.md "Roles as data"): the whole
-- set, versioned like policy_documents, so a change is one new row and every
-- instance loads one consistent set. `roles` is a JSON array of
-- {name, description, permissions: [action, …]}.
CREATE TABLE role_catalogues (
    version        BIGINT PRIMARY KEY,
    roles          TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    updated_by     TEXT NOT NULL,
    justification  TEXT NOT NULL
);
