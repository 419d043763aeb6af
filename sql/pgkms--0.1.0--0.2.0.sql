-- SPDX-License-Identifier: Apache-2.0
-- pgkms 0.1.0 -> 0.2.0. CREATE EXTENSION pgkms runs pgkms--0.1.0.sql and then this script, so
-- new installations and upgraded ones end up with the same objects (test/regress/upgrade).
\echo Use "ALTER EXTENSION pgkms UPDATE" to load this file. \quit

-- Masking (docs/masking.md)
-- Pure functions of their arguments: immutable, strict (NULL in, NULL out), parallel safe,
-- and executable by PUBLIC like every function by default.
CREATE FUNCTION kms.mask_name(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_name' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_phone(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_phone' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_email(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_email' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_id_card(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_id_card' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_bank_card(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_bank_card' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_address(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_address' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask(value text, keep_first integer, keep_last integer,
                         mask_char text DEFAULT '*') RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_truncate(value text, n integer) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_truncate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_replace(value text, replacement text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_replace' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
