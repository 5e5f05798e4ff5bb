-- When production was last asked of a deployment by a promote or rollback (a deploy --prod asks at
-- creation): one whose place a newer production change took is "superseded" for those who follow it.
ALTER TABLE `deployments` ADD `requested_at` text;
