-- An account the admin disabled: it cannot log in and none of its tokens work until enabled again.
ALTER TABLE `users` ADD `disabled_at` text;
