-- Users change by compare-and-set: every update names the row_version it
-- read and bumps it, so two writers racing (an admin's lock and a login's
-- password rehash) cannot overwrite each other's change; the loser is told
-- and reads again.
--
-- A user locked or disabled moves the change generation (0011): API keys
-- the user owns are cached with the owner's state, and must stop at once.
ALTER TABLE users ADD COLUMN row_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER users_moves_generation_on_update AFTER UPDATE OF locked, disabled ON users
    FOR EACH STATEMENT EXECUTE FUNCTION move_change_generation();

CREATE TRIGGER users_moves_generation_on_delete AFTER DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION move_change_generation();
