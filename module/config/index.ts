// The daemon's configuration: its types, the one loader and validator (against module/schemas/config.schema.json),
// and the kernel object names derived from it. Every layer that reads the config takes it from here.
export * from './config';
export { SOCKET_NAME } from './socket';
export { validatorFor, faultsOf, firstFault, type SchemaFault } from './schemas';
