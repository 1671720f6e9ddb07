-- Users' roles and permissions (oVirt's model). Predefined roles are written
-- by the engine's Bootstrap from vwire.PredefinedRoles, so that their permits
-- live in one place; a permission is on one object of any type (no foreign
-- key: the engine removes an object's permissions with the object).
CREATE TABLE roles (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    description    TEXT NOT NULL DEFAULT '',
    administrative BOOLEAN NOT NULL DEFAULT FALSE,
    mutable        BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE role_permits (
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permit  INTEGER NOT NULL,
    PRIMARY KEY (role_id, permit)
);

CREATE TABLE permissions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id     TEXT NOT NULL REFERENCES roles(id),
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    UNIQUE (user_id, role_id, object_type, object_id)
);
CREATE INDEX permissions_object ON permissions(object_type, object_id);
CREATE INDEX permissions_role ON permissions(role_id);
