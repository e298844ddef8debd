-- An organization's trash retention, held to 1–3650 days whatever its
-- settings say: a stored value out of range (written before the API checked
-- it, or by hand) neither empties the trash at once (zero or negative) nor
-- fails the sweep (beyond an int). As `OrgSettings::from_json` reads it.
CREATE OR REPLACE FUNCTION app.trash_retention(p_org uuid) RETURNS interval
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT make_interval(days => COALESCE(
            (SELECT CASE WHEN jsonb_typeof(o.settings -> 'trash_retention_days') = 'number'
                         THEN LEAST(GREATEST(round((o.settings ->> 'trash_retention_days')::numeric), 1),
                                    3650)::int END
               FROM organizations o WHERE o.id = p_org), 30))
    $$;
