const t0 = performance.now();
const M = require('module'); const orig = M.prototype.require; const times = [];
M.prototype.require = function (id) { const s = performance.now(); const r = orig.apply(this, arguments); times.push([id, performance.now() - s]); return r; };
process.on('exit', () => { const nt = performance.nodeTiming; process.stderr.write(`bootstrapComplete ${nt.bootstrapComplete.toFixed(1)} preload-start ${t0.toFixed(1)} exit ${performance.now().toFixed(1)}\n` + times.map(([i, t]) => `${t.toFixed(1)} ${i}`).join('\n') + '\n'); });
