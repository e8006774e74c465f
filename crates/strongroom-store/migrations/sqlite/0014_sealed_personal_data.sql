-- Personal data is sealed at rest: a user's e-mail and full name, a
-- session's client address and user agent, each sealed by the keyring key
-- system.user-secrets and bound to its table, column and row. A session's
-- address and user agent are also kept as keyed hashes (bound to the
-- session), which binding compares on every request without decrypting.
--
-- The clear columns stay (emptied: '' for users, NULL for sessions) so this
-- migration is only additions; the server seals the rows written before it
-- at start-up (Identity::seal_old_rows) and empties their clear columns.
ALTER TABLE users ADD COLUMN sealed_email BLOB;
ALTER TABLE users ADD COLUMN sealed_full_name BLOB;
ALTER TABLE sessions ADD COLUMN sealed_ip BLOB;
ALTER TABLE sessions ADD COLUMN sealed_user_agent BLOB;
ALTER TABLE sessions ADD COLUMN ip_mac BLOB;
ALTER TABLE sessions ADD COLUMN user_agent_mac BLOB;
