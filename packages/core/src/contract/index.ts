/**
 * The contract suites (vitest): what every broker and store adapter must do, run by each adapter
 * against its real backend. See docs/adapters.md.
 */
export { brokerContract, type BrokerContractOptions } from './broker-contract.js';
export { runtimeContract, type RuntimeContractOptions } from './runtime-contract.js';
export { storeContract, type StoreContractOptions } from './store-contract.js';
