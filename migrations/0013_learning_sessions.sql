-- Learning sessions that the server times: a session is started, kept
-- alive by heartbeats, and ended by the learner or, after inactivity, by
-- the service (at its last heartbeat). One open session per learner and
-- course.
ALTER TABLE learning_sessions
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
    -- The activity log: a JSON array of the events the client reported,
    -- bounded (the API refuses what would pass the bound).
    ADD CONSTRAINT learning_sessions_activity_check
        CHECK (activity IS NULL OR (jsonb_typeof(activity) = 'array' AND length(activity::text) <= 65536)),
    ADD CONSTRAINT learning_sessions_seen_check CHECK (last_seen_at >= started_at);
CREATE UNIQUE INDEX learning_sessions_open_key ON learning_sessions (organization_id, user_id, course_id)
    WHERE ended_at IS NULL;
-- The sweep of abandoned sessions.
CREATE INDEX learning_sessions_idle_idx ON learning_sessions (organization_id, last_seen_at)
    WHERE ended_at IS NULL;
