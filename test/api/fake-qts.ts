// A stand-in for QTS's authLogin.cgi on 127.0.0.1: answers ?sid=… with QDocRoot XML, as QTS does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeQtsUser {
  username: string;
  isAdmin: boolean;
}

export interface FakeQts {
  url: string;
  /** sid → user; sids not in the map get authPassed 0. */
  sessions: Map<string, FakeQtsUser>;
  requests: number;
  stop(): Promise<void>;
}

function reply(user: FakeQtsUser | undefined): string {
  if (!user) {
    return '<?xml version="1.0" encoding="UTF-8" ?>\n<QDocRoot version="1.0"><doQuick><![CDATA[]]></doQuick>'
      + '<authPassed><![CDATA[0]]></authPassed><errorValue><![CDATA[-1]]></errorValue></QDocRoot>';
  }
  return '<?xml version="1.0" encoding="UTF-8" ?>\n<QDocRoot version="1.0"><doQuick><![CDATA[]]></doQuick>'
    + `<authPassed><![CDATA[1]]></authPassed><isAdmin><![CDATA[${user.isAdmin ? 1 : 0}]]></isAdmin>`
    + `<username><![CDATA[${user.username}]]></username><groupname><![CDATA[${user.isAdmin ? 'administrators' : 'everyone'}]]></groupname>`
    + '<ts><![CDATA[123456]]></ts></QDocRoot>';
}

export async function startFakeQts(initial: Record<string, FakeQtsUser> = {}): Promise<FakeQts> {
  const sessions = new Map(Object.entries(initial));
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/cgi-bin/authLogin.cgi') {
      res.writeHead(404).end();
      return;
    }
    state.requests++;
    const sid = url.searchParams.get('sid') ?? '';
    res.writeHead(200, { 'Content-Type': 'text/xml' }).end(reply(sessions.get(sid)));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/cgi-bin/authLogin.cgi`,
    sessions,
    get requests() { return state.requests; },
    stop: () => new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
