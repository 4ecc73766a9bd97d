export { brokerContract, waitFor, type BrokerContractOptions } from './broker-contract.js';
export { ManualClock, settle } from './manual-clock.js';
export { runtimeContract, silentLogger, type RuntimeContractOptions } from './runtime-contract.js';
