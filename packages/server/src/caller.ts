import type { Account } from '@buildd/protocol';

/**
 * The account a request acts for, as authentication found it (`http/auth.ts`), with the key it used.
 * Routes hand it to `store/` and `queue/`, which scope every query by it; it is owned here, below both,
 * so that neither imports from `http/`.
 */
export interface Caller extends Account {
  keyId: string;
  keyPrefix: string;
}

/** Whether the caller may see and manage everything. */
export const isAdmin = (caller: Pick<Caller, 'level'>): boolean => caller.level === 'admin';
