import { brokerContract } from '@taskchart/core/contract';
import { MemoryHub, memoryBroker } from '../src/index.js';

// One hub for the whole file: each connect() is a new "connection" to the same in-process
// broker, so the redelivery-to-another-connection and prefix tests mean what they say.
const hub = new MemoryHub();
brokerContract({ name: 'memory', connect: (prefix) => memoryBroker({ hub, queuePrefix: prefix }) });
