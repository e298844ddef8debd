-- Which policies are in force: a digest of all policies/ files together and
-- the latest migration they were applied after. A service start re-applies
-- the files (all of them, in order) only when either differs, so starting a
-- replica beside running ones takes no table lock; `lms migrate` always
-- re-applies them (and so repairs a policy changed by hand). The row is
-- written after the last file, so a run cut short is redone in full.
CREATE TABLE app.policy_state (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    digest     text        NOT NULL,
    migration  bigint      NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON app.policy_state FROM PUBLIC;
