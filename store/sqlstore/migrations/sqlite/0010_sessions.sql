-- Sessions (issue 13): a token is an SSO bearer token ('sso') or a
-- persistent-auth session cookie ('session'). expires stays the absolute
-- end; a token also ends idle_ms after last_used (0: the engine's default
-- idle time). Tokens from before this migration have last_used 0 and so are
-- idle-expired: their users log in again once.
ALTER TABLE sso_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'sso';
ALTER TABLE sso_tokens ADD COLUMN created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sso_tokens ADD COLUMN last_used BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sso_tokens ADD COLUMN idle_ms BIGINT NOT NULL DEFAULT 0;
-- DeleteUserTokens (password change, user removal) finds a user's tokens.
CREATE INDEX sso_tokens_user ON sso_tokens (user_id);
