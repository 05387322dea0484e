// The API's unix socket in runDir: the daemon listens there, the CLI connects there. Imported alone by the CLI's
// client verbs (they load nothing they do not use).
export const SOCKET_NAME = 'sipa.sock';
