-- Loading an exported organization into this installation as a new one,
-- ids kept, through three functions of schema `import` owned by
-- lms_importer (NOLOGIN; its reach is policies/80_import.sql):
--
--   import.register(registry, slug)   registers the organization (it must
--                                     not exist) and marks it as being
--                                     imported by this transaction;
--   import.load_rows(org, table, rows) writes rows of one carried table,
--                                     as they were (triggers off for these
--                                     statements), only into an
--                                     organization this same transaction
--                                     began importing, only rows of it;
--   import.finish(org)                checks every foreign key of the
--                                     organization's rows (the triggers
--                                     that would have were off), counts its
--                                     rows for usage, and ends the import.
--
-- The platform role calls them (the platform API's import) and so does an
-- administrator (`lms import`); neither can write into an existing tenant
-- through them.
CREATE SCHEMA import;
REVOKE ALL ON SCHEMA import FROM PUBLIC;
GRANT USAGE ON SCHEMA import TO lms_platform, lms_importer;

-- Organizations being imported, each by one transaction.
CREATE TABLE import.pending (
    organization_id uuid   PRIMARY KEY,
    xid             bigint NOT NULL
);
REVOKE ALL ON import.pending FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON import.pending TO lms_importer;

-- The counters of an imported organization are counted afresh.
GRANT USAGE ON SCHEMA usage TO lms_importer;
GRANT USAGE ON SCHEMA app TO lms_importer;
GRANT EXECUTE ON FUNCTION app.tenant_tables() TO lms_importer;
SET LOCAL ROLE lms_usage;
GRANT EXECUTE ON FUNCTION usage.recount(uuid[]) TO lms_importer;
SET LOCAL ROLE lms_owner;

GRANT CREATE ON SCHEMA import TO lms_importer;
SET LOCAL ROLE lms_importer;

CREATE FUNCTION import.register(p_registry jsonb, p_slug text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    registry jsonb := p_registry;
    org      uuid  := (p_registry ->> 'id')::uuid;
BEGIN
    IF org IS NULL THEN
        RAISE EXCEPTION 'the registry row has no id' USING ERRCODE = '22023';
    END IF;
    -- Rows are written as they were, which needs the right to turn
    -- triggers off (granted where a superuser ran deploy/postgres/roles.sql).
    IF NOT has_parameter_privilege(current_user, 'session_replication_role', 'SET') THEN
        RAISE EXCEPTION 'imports are unavailable: % may not set session_replication_role', current_user
            USING ERRCODE = '55000';
    END IF;
    IF p_slug IS NOT NULL THEN
        registry := jsonb_set(registry, '{slug}', to_jsonb(p_slug));
    END IF;
    PERFORM set_config('app.org_id', org::text, true);
    -- As it was: no trigger records it as a new organization.
    PERFORM set_config('session_replication_role', 'replica', true);
    INSERT INTO organizations SELECT * FROM jsonb_populate_record(NULL::organizations, registry);
    PERFORM set_config('session_replication_role', 'origin', true);
    INSERT INTO import.pending (organization_id, xid) VALUES (org, txid_current());
    RETURN org;
END $$;

-- Refuses unless this transaction registered `p_org` for import.
CREATE FUNCTION import.being_imported(p_org uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM import.pending p
                    WHERE p.organization_id = p_org AND p.xid = txid_current()) THEN
        RAISE EXCEPTION 'organization % is not being imported by this transaction', p_org
            USING ERRCODE = '42501';
    END IF;
END $$;

CREATE FUNCTION import.load_rows(p_org uuid, p_table text, p_rows jsonb) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cols text;
    n    bigint;
BEGIN
    PERFORM import.being_imported(p_org);
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
      FROM pg_class c
      JOIN pg_namespace s ON s.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                         AND NOT a.attisdropped AND a.attgenerated = ''
     WHERE s.nspname = 'public' AND c.relname = p_table
       AND p_table NOT IN ('auth_sessions', 'refresh_tokens')
       AND p_table IN (SELECT app.tenant_tables());
    IF cols IS NULL THEN
        RAISE EXCEPTION 'an archive carries no table %', p_table USING ERRCODE = '22023';
    END IF;
    -- A custom domain serves only once proven here: it arrives unverified
    -- (its verification token kept, for the tenant's DNS record).
    IF p_table = 'organization_domains' THEN
        SELECT COALESCE(jsonb_agg(r - 'verified_at' - 'verified_by'), '[]') INTO p_rows
          FROM jsonb_array_elements(p_rows) AS r;
    END IF;
    PERFORM set_config('app.org_id', p_org::text, true);
    -- Rows as they were: no trigger judges them as new writes (foreign keys
    -- included; import.finish checks those).
    PERFORM set_config('session_replication_role', 'replica', true);
    EXECUTE format('INSERT INTO public.%I (%s) SELECT %s FROM jsonb_populate_recordset(NULL::public.%I, $1)',
                   p_table, cols, cols, p_table) USING p_rows;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('session_replication_role', 'origin', true);
    RETURN n;
END $$;

CREATE FUNCTION import.finish(p_org uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    fk      record;
    missing bigint;
BEGIN
    PERFORM import.being_imported(p_org);
    PERFORM set_config('app.org_id', p_org::text, true);
    -- Every foreign key of every tenant table, for this organization's rows
    -- (a reference with a null column is not checked, as MATCH SIMPLE says).
    FOR fk IN
        SELECT k.conname, child.relname AS child, parent.relname AS parent,
               (SELECT string_agg(format('c.%I IS NOT NULL', a.attname), ' AND ')
                  FROM unnest(k.conkey) AS x(attnum)
                  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.attnum) AS present,
               (SELECT string_agg(format('p.%I = c.%I', pa.attname, ca.attname), ' AND ')
                  FROM unnest(k.conkey, k.confkey) AS x(c_att, p_att)
                  JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = x.c_att
                  JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = x.p_att) AS matches
          FROM pg_constraint k
          JOIN pg_class child ON child.oid = k.conrelid
          JOIN pg_namespace s ON s.oid = child.relnamespace
          JOIN pg_class parent ON parent.oid = k.confrelid
         WHERE k.contype = 'f' AND s.nspname = 'public'
           AND child.relname NOT IN ('auth_sessions', 'refresh_tokens')
           AND child.relname IN (SELECT app.tenant_tables())
         ORDER BY child.relname, k.conname
    LOOP
        EXECUTE format('SELECT count(*) FROM public.%I c WHERE c.organization_id = $1 AND %s '
                       'AND NOT EXISTS (SELECT 1 FROM public.%I p WHERE %s)',
                       fk.child, fk.present, fk.parent, fk.matches)
            INTO missing USING p_org;
        IF missing > 0 THEN
            RAISE EXCEPTION 'the archive breaks %: % rows of % name a missing row of %',
                fk.conname, missing, fk.child, fk.parent
                USING ERRCODE = '23503';
        END IF;
    END LOOP;
    PERFORM usage.recount(ARRAY[p_org]);
    DELETE FROM import.pending WHERE organization_id = p_org;
    PERFORM set_config('app.org_id', '', true);
END $$;

-- An import is finished or not committed: at commit, an organization
-- still pending (its foreign keys unchecked, its usage uncounted) refuses
-- the transaction.
CREATE FUNCTION import.refuse_unfinished() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM import.pending p WHERE p.organization_id = NEW.organization_id) THEN
        RAISE EXCEPTION 'the import of organization % was not finished', NEW.organization_id
            USING ERRCODE = '55000';
    END IF;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION import.register(jsonb, text), import.load_rows(uuid, text, jsonb),
    import.finish(uuid), import.being_imported(uuid), import.refuse_unfinished() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION import.register(jsonb, text), import.load_rows(uuid, text, jsonb),
    import.finish(uuid) TO lms_platform;
-- (The owner of import.pending attaches the check below.)
GRANT EXECUTE ON FUNCTION import.refuse_unfinished() TO lms_owner;

SET LOCAL ROLE lms_owner;
REVOKE CREATE ON SCHEMA import FROM lms_importer;

CREATE CONSTRAINT TRIGGER import_finished AFTER INSERT ON import.pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION import.refuse_unfinished();
