import type { BuilddClient } from './client.ts';
import { ServerRequestError } from './request-error.ts';

/**
 * The client, noting every time the server answered (any HTTP answer counts: a 409 is the server
 * speaking; a timeout or a refused connection is not). The health endpoint reports the last time.
 */
export function noteContact(client: BuilddClient, onContact: () => void): BuilddClient {
  const noted =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        const answer = await call(...args);
        onContact();
        return answer;
      } catch (error) {
        if (error instanceof ServerRequestError && error.status !== undefined) onContact();
        throw error;
      }
    };
  return {
    claim: noted(client.claim),
    patchWorker: noted(client.patchWorker),
    postEvents: noted(client.postEvents),
    me: noted(client.me),
    listWorkspaces: noted(client.listWorkspaces),
    uploadArtifact: noted(client.uploadArtifact),
    askQuestion: noted(client.askQuestion),
    readQuestion: noted(client.readQuestion),
    downloadArtifact: noted(client.downloadArtifact),
    pendingMessages: noted(client.pendingMessages),
    messagesDelivered: noted(client.messagesDelivered),
  };
}
