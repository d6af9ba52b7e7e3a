import { z } from 'zod';
import { AccountLevel, AccountType, Id, limits, Name, RunnerPreference, TaskStatus } from './common.ts';
import { Account, WorkspaceAccess, WorkspaceConfig } from './entities.ts';

const Money = z.number().nonnegative().max(1_000_000);

export const CreateAccountBody = z.strictObject({
  name: Name,
  type: AccountType,
  level: AccountLevel.optional(),
  maxConcurrentWorkers: z.number().int().min(0).max(10_000).optional(),
  maxConcurrentSessions: z.number().int().min(0).max(10_000).optional(),
  maxCostPerDayUsd: Money.nullable().optional(),
});
export type CreateAccountBody = z.infer<typeof CreateAccountBody>;

export const UpdateAccountBody = CreateAccountBody.omit({ type: true }).partial();
export type UpdateAccountBody = z.infer<typeof UpdateAccountBody>;

export const CreateKeyBody = z.strictObject({ name: Name.optional() });
export type CreateKeyBody = z.infer<typeof CreateKeyBody>;

/** Answer to account creation: the plain API key appears here and nowhere else, ever. */
export const CreatedAccount = z.object({ account: Account, apiKey: z.string() });

const BranchName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._/-]+$/, 'a branch name may hold letters, digits, ".", "_", "/" and "-"');

export const CreateWorkspaceBody = z.strictObject({
  name: Name.regex(/^[A-Za-z0-9._-]+$/, 'a workspace name may hold letters, digits, ".", "_" and "-"'),
  repoUrl: z.string().min(1).max(limits.url).nullable().optional(),
  defaultBranch: BranchName.optional(),
  access: WorkspaceAccess.optional(),
  maxRunningTasks: z.number().int().min(1).max(10_000).nullable().optional(),
  config: WorkspaceConfig.strict().optional(),
  /**
   * A GitHub token for `config.githubRepo` (pull requests, workflow dispatch): stored encrypted with the
   * server's key and never returned (the workspace shows `hasGithubToken`); null removes it.
   */
  githubToken: z
    .string()
    .min(1)
    .max(1000)
    .regex(/^[\x21-\x7e]+$/, 'githubToken must be the token alone: printable characters, no spaces')
    .nullable()
    .optional(),
});
export type CreateWorkspaceBody = z.infer<typeof CreateWorkspaceBody>;

export const UpdateWorkspaceBody = CreateWorkspaceBody.partial();
export type UpdateWorkspaceBody = z.infer<typeof UpdateWorkspaceBody>;

export const SetMemberBody = z.strictObject({ canClaim: z.boolean(), canCreate: z.boolean() });
export type SetMemberBody = z.infer<typeof SetMemberBody>;

export const Capability = z.string().trim().min(1).max(limits.capability);

export const CreateTaskBody = z.strictObject({
  workspaceId: Id,
  title: z.string().trim().min(1).max(limits.title),
  prompt: z.string().min(1).max(limits.prompt),
  priority: z.number().int().min(-1000).max(1000).optional(),
  runnerPreference: RunnerPreference.optional(),
  requiredCapabilities: z.array(Capability).max(50).optional(),
  dependsOn: z.array(Id).max(100).optional(),
  maxAttempts: z.number().int().min(1).max(20).optional(),
  budgetUsd: z.number().positive().max(100_000).nullable().optional(),
  maxTurns: z.number().int().positive().max(10_000).nullable().optional(),
  model: z.string().min(1).max(200).nullable().optional(),
});
export type CreateTaskBody = z.infer<typeof CreateTaskBody>;

export const UpdateTaskBody = CreateTaskBody.omit({ workspaceId: true, dependsOn: true }).partial();
export type UpdateTaskBody = z.infer<typeof UpdateTaskBody>;

export const ListTasksQuery = z.object({
  workspaceId: Id.optional(),
  status: TaskStatus.optional(),
  /** Only tasks this account created: an account id, or `me` for the caller. */
  createdBy: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(200).optional(),
});
export type ListTasksQuery = z.infer<typeof ListTasksQuery>;

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(200).optional(),
});
