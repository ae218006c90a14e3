-- Placeholder: replaced by the real migration before commit.
SELECT 1;
