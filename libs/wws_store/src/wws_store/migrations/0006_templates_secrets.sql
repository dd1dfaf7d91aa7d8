-- Templates: command-side name index, read model (current + every version).
CREATE TABLE wws_template_names (
    org_id      text NOT NULL,
    name        text NOT NULL,
    template_id uuid NOT NULL UNIQUE,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE api_templates (
    template_id uuid PRIMARY KEY,
    org_id      text        NOT NULL,
    name        text        NOT NULL,
    version     integer     NOT NULL,
    spec        jsonb       NOT NULL,
    deleted     boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    position    bigint      NOT NULL
);
CREATE INDEX api_templates_org_name ON api_templates (org_id, name) WHERE NOT deleted;

CREATE TABLE api_template_versions (
    template_id uuid        NOT NULL,
    version     integer     NOT NULL,
    spec        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- Secrets, envelope-encrypted: each value under its own data key (AES-256-GCM), the data
-- key wrapped by a key-encryption key from configuration (key_id says which). Rotating
-- the key-encryption key re-wraps data keys only. Never in events, logs or images.
CREATE TABLE wws_secrets (
    scope       text        NOT NULL,   -- e.g. workspace:<id>, user:<id>
    name        text        NOT NULL,
    key_id      text        NOT NULL,
    wrapped_key bytea       NOT NULL,   -- nonce || AESGCM(KEK).encrypt(data key)
    ciphertext  bytea       NOT NULL,   -- nonce || AESGCM(data key).encrypt(value)
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (scope, name)
);
