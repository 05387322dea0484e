// A stand-in for QTS's web server in the packaging tests, run by the test in the fake NAS's network namespace:
//   node qts-web.cjs STRIP_PORT KEEP_PORT BACKEND_PORT PREFIX ADMIN_SID
// - /cgi-bin/authLogin.cgi?sid=… answers as QTS does (QDocRoot XML): ADMIN_SID is an administrator's session.
// - PREFIX/… is forwarded to the daemon on 127.0.0.1:BACKEND_PORT as Apache's mod_proxy forwards it
//   (ProxyPass with ProxyPreserveHost Off): Host becomes the backend's, X-Forwarded-For, -Host and -Server are
//   appended. On STRIP_PORT the prefix is cut (ProxyPass PREFIX/ http://127.0.0.1:PORT/), on KEEP_PORT it is
//   passed on (ProxyPass PREFIX http://127.0.0.1:PORT/PREFIX: PREFIX alone too). Anything else is 404.
// Prints "ready" once both listen; runs until killed.
'use strict';
const http = require('node:http');

const [strip, keep, backend] = process.argv.slice(2, 5).map(Number);
const prefix = process.argv[5];
const adminSid = process.argv[6];

function authReply(sid) {
  const ok = sid === adminSid;
  return '<?xml version="1.0" encoding="UTF-8" ?>\n<QDocRoot version="1.0"><doQuick><![CDATA[]]></doQuick>'
    + `<authPassed><![CDATA[${ok ? 1 : 0}]]></authPassed>`
    + (ok ? '<isAdmin><![CDATA[1]]></isAdmin><username><![CDATA[admin]]></username>' : '<errorValue><![CDATA[-1]]></errorValue>')
    + '</QDocRoot>';
}

function appended(existing, value) {
  return existing ? `${existing}, ${value}` : value;
}

function server(keepPrefix) {
  return http.createServer((req, res) => {
    const url = new URL(req.url, 'http://qts');
    if (url.pathname === '/cgi-bin/authLogin.cgi') {
      res.writeHead(200, { 'Content-Type': 'text/xml' }).end(authReply(url.searchParams.get('sid')));
      return;
    }
    if (!url.pathname.startsWith(`${prefix}/`) && !(keepPrefix && url.pathname === prefix)) {
      res.writeHead(404).end();
      return;
    }
    const headers = { ...req.headers };
    headers['x-forwarded-for'] = appended(req.headers['x-forwarded-for'], req.socket.remoteAddress.replace(/^::ffff:/, ''));
    headers['x-forwarded-host'] = appended(req.headers['x-forwarded-host'], req.headers.host);
    headers['x-forwarded-server'] = appended(req.headers['x-forwarded-server'], 'qts');
    headers.host = `127.0.0.1:${backend}`;
    const path = keepPrefix ? req.url : req.url.slice(prefix.length);
    const out = http.request({ host: '127.0.0.1', port: backend, method: req.method, path, headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    out.on('error', (e) => res.writeHead(502).end(String(e)));
    req.pipe(out);
  });
}

let listening = 0;
for (const [port, keepPrefix] of [[strip, false], [keep, true]]) {
  server(keepPrefix).listen(port, '127.0.0.1', () => {
    if (++listening === 2) console.log('ready');
  });
}
