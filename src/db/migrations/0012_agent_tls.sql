-- Agents serve their API over HTTPS with a self-signed certificate: the key pin the master hands to
-- whoever it sends to them (CLI uploads, peer pulls, the UI upload proxy).
ALTER TABLE agents ADD COLUMN tls_pin TEXT;
