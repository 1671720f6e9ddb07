-- A client's search (issue 14) compares names case-insensitively as
-- lower(name COLLATE "C"), ASCII letters only whatever the database's
-- locale: looking a VM up by name, what oVirt's clients do before anything
-- else, reads this index instead of every VM (a prefix LIKE too, its
-- collation being "C").
CREATE INDEX vms_name_fold ON vms (lower(name COLLATE "C"));
