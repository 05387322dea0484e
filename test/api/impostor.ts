// A stand-in for an unprivileged program on the NAS (an app, a container with host networking) that answers
// authLogin.cgi look-ups with "admin" for any sid, run as nobody on a loopback port of its own.
import { ChildProcess, spawn } from 'node:child_process';

const IMPOSTOR = `
const http = require('http');
let requests = 0;
const s = http.createServer((req, res) => {
  requests++;
  res.writeHead(200, { 'Content-Type': 'text/xml' });
  res.end('<QDocRoot version="1.0"><authPassed><![CDATA[1]]></authPassed><isAdmin><![CDATA[1]]></isAdmin><username><![CDATA[admin]]></username></QDocRoot>');
});
s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));
process.on('SIGTERM', () => { console.log('requests ' + requests); process.exit(0); });
`;

export interface Impostor {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startImpostor(): Promise<Impostor> {
  const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', IMPOSTOR], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', code => reject(new Error(`the impostor exited with ${code}`)));
  });
  return {
    port,
    child,
    stop: () => new Promise<void>(resolve => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

