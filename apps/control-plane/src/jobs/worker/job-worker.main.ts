/**
 * Entry of a compression job's child process. It waits for the parent's `start` message, runs
 * the pipeline, and reports `done` or `failed`; the parent kills it to cancel. It never touches
 * the database: everything it learns goes to the parent over IPC.
 */
import type { ChildMessage, ParentMessage, WorkerLatencyAnswer } from './job-worker.protocol';
import { JobPipeline } from './job-pipeline';

function send(message: ChildMessage): void {
  process.send?.(message);
}

const answerHandlers: ((answer: WorkerLatencyAnswer) => void)[] = [];

async function main(): Promise<void> {
  if (!process.send) throw new Error('the job worker runs as a child process with an IPC channel');
  // A lost parent means nobody can record the results: stop rather than train for nobody.
  process.on('disconnect', () => process.exit(3));
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'latency-answer') for (const h of answerHandlers) h(message);
    if (message.type === 'start') {
      const pipeline = new JobPipeline(message, {
        send,
        onAnswer: (handler) => answerHandlers.push(handler),
      });
      // The last message is flushed before the process exits.
      const finish = (last: ChildMessage): void => {
        process.send!(last, () => process.exit(0));
      };
      pipeline.run().then(
        () => finish({ type: 'done' }),
        (err: Error) => finish({ type: 'failed', error: err.message }),
      );
    }
  });
}

main().catch((err: Error) => {
  process.stderr.write(`job worker: ${err.message}\n`);
  process.exit(2);
});
