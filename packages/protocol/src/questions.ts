import { z } from 'zod';
import { Id, limits, Timestamp } from './common.ts';

/** The question a run asks a person (`POST /api/workers/:id/question`). */
export const AskQuestionBody = z.object({
  text: z.string().trim().min(1).max(limits.text),
  options: z.array(z.string().min(1).max(limits.title)).max(20).optional(),
});
export type AskQuestionBody = z.infer<typeof AskQuestionBody>;

/** The open question as its task shows it. */
export const Question = z.object({
  id: Id,
  text: z.string(),
  options: z.array(z.string()),
  askedAt: Timestamp,
});
export type Question = z.infer<typeof Question>;

/** A question with its answer, as the asking agent reads it (`GET /api/workers/:id/question`). */
export const QuestionWithAnswer = Question.extend({
  answer: z.string().nullable(),
  answeredAt: Timestamp.nullable(),
});
export type QuestionWithAnswer = z.infer<typeof QuestionWithAnswer>;

/** A person's answer (`POST /api/tasks/:id/answer`) or follow-up (`POST /api/tasks/:id/messages`). */
export const TextBody = z.object({ text: z.string().trim().min(1).max(limits.prompt) });
export type TextBody = z.infer<typeof TextBody>;

/**
 * What a new attempt continues: the conversation of an earlier one (a `conversation` artifact, by SHA-256)
 * and the text to continue it with (the answer to its question, or a follow-up instruction).
 */
export const Resume = z.object({
  conversationSha256: z.string().nullable(),
  input: z.object({ kind: z.enum(['answer', 'message']), text: z.string() }).nullable(),
});
export type Resume = z.infer<typeof Resume>;

/**
 * A person's message to a running task, on its way into the live session: persisted until the holder's
 * agent says it put it there (`POST /api/workers/:id/messages/delivered`), so a dropped push loses nothing.
 */
export const TaskMessage = z.object({ id: Id, text: z.string(), createdAt: Timestamp });
export type TaskMessage = z.infer<typeof TaskMessage>;

/** The messages a live worker has not taken yet (`GET /api/workers/:id/messages`, holder only). */
export const PendingMessages = z.object({ items: z.array(TaskMessage) });
export type PendingMessages = z.infer<typeof PendingMessages>;

/** Which messages the holder put into its session. */
export const DeliveredMessagesBody = z.object({ ids: z.array(Id).min(1).max(100) });
export type DeliveredMessagesBody = z.infer<typeof DeliveredMessagesBody>;
