/** Entry of the runner child when the agent runs from the repo (the binary uses main.ts). */
import { runRunnerChild } from './runner-child';

runRunnerChild();
