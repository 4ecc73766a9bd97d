/**
 * The part of a Taskchart client the dashboard uses: a `createClient()` client fits, and so does
 * anything else with these methods (a test double never does: the tests use a real client).
 */
import type { Client } from '@taskchart/core';

export type DashboardClient = Pick<
  Client,
  'listRuns' | 'getRun' | 'events' | 'cancel' | 'retry' | 'chainDefinitions' | 'chainDefinition' | 'deadLetters' | 'redriveDeadLetters' | 'deadLetterQueues'
>;
