-- Token keys become uid ‖ 0x00 ‖ creation second ‖ SHA-256 (auth.TokenKey).
-- The old keys were the last two parts, so a new key is the uid, a zero byte
-- and the old key. Keys now sort by user, so the primary key serves every
-- per-user query and the separate per-user index goes: a login writes one
-- index entry instead of two.
UPDATE auth_tokens SET hash = convert_to(uid, 'UTF8') || '\x00'::bytea || hash WHERE length(hash) = 40;
DROP INDEX auth_tokens_user_id;
