-- Extension creation and a helper that shows an error's SQLSTATE and message.
CREATE EXTENSION pgkms;
SELECT extname, extversion, nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'pgkms';
CREATE FUNCTION public.sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- Key and grant ids differ on every run: messages show them masked.
CREATE FUNCTION public.masked(t text) RETURNS text LANGUAGE sql AS
  $$ SELECT regexp_replace(t, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<id>', 'g') $$;
