-- A client's search (issue 14) compares names case-insensitively as
-- lower(name), ASCII letters only: looking a VM up by name, what oVirt's
-- clients do before anything else, reads this index instead of every VM.
CREATE INDEX vms_name_fold ON vms (lower(name));
