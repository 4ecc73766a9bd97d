/**
 * Test helpers that need no test framework: a manual clock, a silent logger, polling. The vitest
 * suites (`brokerContract`, `runtimeContract`, `storeContract`) are in `@taskchart/core/contract`.
 */
export { ManualClock, settle } from './manual-clock.js';
export { silentLogger } from './silent-logger.js';
export { waitFor } from './wait-for.js';
