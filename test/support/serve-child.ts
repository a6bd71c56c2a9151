/**
 * `management-tokens serve` in a child process, so that a test can kill it (SIGKILL) at a moment
 * of its choosing. Configuration comes from the environment, as for the real executable.
 */
import { run } from '../../src/cli/main.js'

void run(['serve'])
