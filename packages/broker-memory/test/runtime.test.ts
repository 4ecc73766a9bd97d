import { runtimeContract } from '@taskchart/core/contract';
import { sqliteStore } from '@taskchart/store-sqlite';
import { MemoryHub, memoryBroker } from '../src/index.js';

// Handles of one hub act as connections to one in-process broker (as a real broker would be
// shared by a stopped runtime and its successor).
const hub = new MemoryHub();
runtimeContract({ name: 'memory', connect: (prefix) => memoryBroker({ hub, queuePrefix: prefix }), store: (file) => sqliteStore(file) });
