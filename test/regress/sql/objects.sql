-- Snapshot of every object of the extension with its signature and privileges: a change to
-- the SQL surface must show up here.
SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgkms') AND deptype = 'e'
 ORDER BY 1;
SELECT p.oid::regprocedure AS function, p.provolatile, p.proparallel, p.prosecdef,
       replace(coalesce(array_to_string(p.proacl, ','), '(default: PUBLIC)'), current_user, 'OWNER') AS acl
  FROM pg_proc p WHERE p.pronamespace = 'kms'::regnamespace ORDER BY p.oid::regprocedure::text;
SELECT c.relname, replace(coalesce(array_to_string(c.relacl, ','), '(owner only)'), current_user, 'OWNER') AS acl
  FROM pg_class c WHERE c.relnamespace = 'kms'::regnamespace AND c.relkind = 'r' ORDER BY 1;
