-- Whether a worker's run had its tools in the agent's sandbox (null: the agent did not say, e.g. older agents).
ALTER TABLE workers ADD COLUMN sandboxed boolean;
