-- Users change by compare-and-set: every update names the row_version it
-- read and bumps it, so two writers racing (an admin's lock and a login's
-- password rehash) cannot overwrite each other's change; the loser is told
-- and reads again.
--
-- A user locked or disabled moves the change generation (0011): API keys
-- the user owns are cached with the owner's state, and must stop at once.
ALTER TABLE users ADD COLUMN row_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER users_update_moves_generation AFTER UPDATE OF locked, disabled ON users
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER users_delete_moves_generation AFTER DELETE ON users
BEGIN
    UPDATE change_generation SET generation = generation + 1 WHERE id = 1;
END;
