-- Node lifecycle: a node being drained takes no new placements; its sites are copied elsewhere
-- until it can be removed.
ALTER TABLE `agents` ADD `draining_since` text;
