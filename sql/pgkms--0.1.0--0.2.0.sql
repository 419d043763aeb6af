-- SPDX-License-Identifier: Apache-2.0
-- pgkms 0.1.0 -> 0.2.0. CREATE EXTENSION pgkms runs pgkms--0.1.0.sql and then this script, so
-- new installations and upgraded ones end up with the same objects (test/regress/upgrade).
\echo Use "ALTER EXTENSION pgkms UPDATE" to load this file. \quit
