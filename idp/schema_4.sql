-- Schema version 4: how each sign-in was made (RFC 8176 `amr` values, space-separated), carried
-- from the browser session to its codes and tokens, so ID tokens and introspection can say it.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE tokens ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
