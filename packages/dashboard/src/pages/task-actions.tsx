import { type FormEvent, useState } from 'react';
import { api } from '../api.ts';
import type { Question, TaskDetail } from '../types.ts';
import { ErrorNote, Field, NotYet, useAction } from '../ui.tsx';

/** The run asked a person something; the answer resumes the same session. */
export function AnswerForm(props: { task: TaskDetail; question: Question; onDone: () => void }) {
  const [text, setText] = useState('');
  const action = useAction();
  const send = async (answer: string) => {
    const done = await action.run(async () => {
      await api.post(`/api/tasks/${props.task.id}/answer`, { text: answer });
      return true;
    });
    if (!done) return;
    setText('');
    props.onDone();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void send(text);
  };
  return (
    <section className="panel question" aria-labelledby="question-title">
      <h2 id="question-title">The run asks</h2>
      <div className="prose">
        <pre className="text">{props.question.text}</pre>
      </div>
      {props.question.options?.length ? (
        <fieldset className="actions">
          <legend className="sr-only">Answers offered</legend>
          {props.question.options.map((o) => (
            <button key={o} type="button" onClick={() => void send(o)} disabled={action.busy}>
              {o}
            </button>
          ))}
        </fieldset>
      ) : null}
      <form onSubmit={submit}>
        <Field label="Your answer">
          {(id) => (
            <textarea id={id} rows={3} value={text} onChange={(e) => setText(e.target.value)} required />
          )}
        </Field>
        {action.error?.missing ? <NotYet what="answering questions" /> : <ErrorNote error={action.error} />}
        <button type="submit" className="primary" disabled={action.busy || text.trim() === ''}>
          Send answer
        </button>
      </form>
    </section>
  );
}

/** A follow-up: into a running session, or a new attempt that resumes a finished one on the same branch. */
export function FollowUpForm(props: { task: TaskDetail; onDone: () => void }) {
  const [text, setText] = useState('');
  const [sent, setSent] = useState(false);
  const action = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSent(false);
    const done = await action.run(async () => {
      await api.post(`/api/tasks/${props.task.id}/messages`, { text });
      return true;
    });
    if (!done) return;
    setText('');
    setSent(true);
    props.onDone();
  };
  const running = props.task.status === 'running' || props.task.status === 'assigned';
  // A follow-up to a finished task makes it pending: the form stays mounted (and says "Sent.") while the
  // new attempt waits for an agent, but takes no message until it runs or ends again.
  const closed = ['pending', 'cancelled', 'waiting_input'].includes(props.task.status);
  if (closed) {
    return sent ? (
      <section className="panel" aria-labelledby="follow-up-title">
        <h2 id="follow-up-title">Follow up</h2>
        <p role="status">Sent. The new attempt waits for an agent.</p>
      </section>
    ) : null;
  }
  return (
    <form onSubmit={submit} className="panel" aria-labelledby="follow-up-title">
      <h2 id="follow-up-title">Follow up</h2>
      <Field
        label="Message"
        hint={
          running
            ? 'Delivered into the running session.'
            : 'Starts a new attempt that continues this conversation on the same branch.'
        }
      >
        {(id, hint) => (
          <textarea
            id={id}
            aria-describedby={hint}
            rows={3}
            value={text}
            onChange={(e) => setText(e.target.value)}
            required
          />
        )}
      </Field>
      {action.error?.missing ? <NotYet what="follow-up messages" /> : <ErrorNote error={action.error} />}
      {sent ? <p role="status">Sent.</p> : null}
      <button type="submit" disabled={action.busy || text.trim() === ''}>
        Send
      </button>
    </form>
  );
}
