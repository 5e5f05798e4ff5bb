-- An agent's reachable URL is pinned (set by the admin, or taken from its first heartbeat); a
-- heartbeat that reports another URL is kept here, not adopted, until the admin accepts it.
ALTER TABLE `agents` ADD `reported_url` text;
