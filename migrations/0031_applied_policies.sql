-- Which version of each policies/ file is in force: a start re-applies a
-- file only when its text changed (or a migration ran), so starting a
-- replica beside running ones takes no table lock at all.
CREATE TABLE app.applied_policies (
    file       text        PRIMARY KEY,
    sha256     text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON app.applied_policies FROM PUBLIC;
