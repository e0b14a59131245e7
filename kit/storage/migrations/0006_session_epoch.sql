-- Server-side session revocation (issue 13): a session is valid only while its account's
-- epoch is the one it was opened under. Logging out, disabling and enabling an account
-- move it on, so a copied cookie dies with the logout and old sessions never come back.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
