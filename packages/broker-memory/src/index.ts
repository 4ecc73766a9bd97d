export { memoryBroker, MemoryBroker, MemoryHub, type MemoryBrokerOptions } from './memory-broker.js';
