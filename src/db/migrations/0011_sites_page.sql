-- GET /api/sites pages through an account's sites newest first: one index range per page.
CREATE INDEX `sites_owner_created` ON `sites` (`owner_id`,`created_at`,`id`);
