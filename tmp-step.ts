import { openJobStore } from './src/jobs/store.js';
import { fillHistory } from './test/helpers/history.js';
import { rmSync } from 'node:fs';
rmSync('/tmp/hist-step', { recursive: true, force: true });
const store = openJobStore('/tmp/hist-step/k.db');
const now = Date.now(); const DAY = 86_400_000;
let t = performance.now();
fillHistory(store.db, { jobs: 50_000, finishedFrom: now - 200 * DAY, stepMs: 60_000 });
console.log('fill', performance.now() - t);
if (process.env.CKPT) store.db.pragma('wal_checkpoint(TRUNCATE)'); if (process.env.SYNC) store.db.pragma(process.env.SYNC); if (process.env.NOAUTO) store.db.pragma('wal_autocheckpoint = 0'); let after; const times: number[] = [];
for (;;) { t = performance.now(); const r = store.pruneStep({ finishedBefore: now - 90*DAY, auditBefore: now - 90*DAY, limit: Number(process.env.LIM ?? 1000), ...(after ? { after } : {}) }); times.push(performance.now() - t); after = r.after; if (r.done) break; }
const order = times.map((x,i)=>[x,i]).sort((a,b)=>b[0]-a[0]).slice(0,6).map(([x,i])=>i+':'+x.toFixed(1)); console.log(order); console.log(times.length, times.slice(0, 5).map(x=>x.toFixed(1)), 'max', Math.max(...times).toFixed(1), 'median', times.sort((a,b)=>a-b)[times.length>>1].toFixed(1));
