import { z } from 'zod';
import { Account } from './entities.ts';

/** `POST /api/session`: the dashboard's login, an API key exchanged for an HttpOnly session cookie. */
export const CreateSessionBody = z.strictObject({ apiKey: z.string().min(1).max(200) });
export type CreateSessionBody = z.infer<typeof CreateSessionBody>;

export const SessionResponse = z.object({ account: Account, expiresAt: z.string() });
export type SessionResponse = z.infer<typeof SessionResponse>;

/** The header a cookie-authenticated write must carry: the value of the (readable) CSRF cookie. */
export const csrfHeader = 'x-buildd-csrf';
export const csrfCookie = 'buildd_csrf';
