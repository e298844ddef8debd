-- How long an organization keeps deleted items in the trash: its
-- `trash_retention_days` setting, 30 days when unset or not a number.
CREATE FUNCTION app.trash_retention(p_org uuid) RETURNS interval
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT make_interval(days => COALESCE(
            (SELECT CASE WHEN jsonb_typeof(o.settings -> 'trash_retention_days') = 'number'
                         THEN (o.settings ->> 'trash_retention_days')::numeric::int END
               FROM organizations o WHERE o.id = p_org), 30))
    $$;
