-- A host may serve one organization only (its pool); null: shared by every organization.
ALTER TABLE api_hosts ADD COLUMN pool_org text;
