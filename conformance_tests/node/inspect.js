"use strict";
// Dump what node-resque's Queue inspection API reports for a namespace, as node sees it.
//   node inspect.js [--scheduled-at '{"queue": Q, "class": C, "args": [...]}']
// Prints {"queues", "queued": {q: jobs}, "lengths": {q: n}, "failedCount", "failed",
// "workers", "allWorkingOn", "stats", "timestamps" (ms), "delayedAt": {ms: {tasks,
// rTimestamp}}, "allDelayed", "locks", "leader", "scheduledAt" (seconds, only when asked)}.

const { connectedQueue, emit, jsonArg, main } = require("./lib");

main(async (args) => {
  const probe = jsonArg(args, "scheduled-at", null);
  const { queue } = await connectedQueue(args);
  try {
    const queues = (await queue.queues()).sort();
    const queued = {};
    const lengths = {};
    for (const q of queues) {
      queued[q] = await queue.queued(q, 0, -1);
      lengths[q] = await queue.length(q);
    }
    const timestamps = await queue.timestamps();
    const delayedAt = {};
    for (const ts of timestamps) delayedAt[ts] = await queue.delayedAt(ts);
    const result = {
      queues,
      queued,
      lengths,
      failedCount: await queue.failedCount(),
      failed: await queue.failed(0, -1),
      workers: await queue.workers(),
      allWorkingOn: await queue.allWorkingOn(),
      stats: await queue.stats(),
      timestamps,
      delayedAt,
      allDelayed: await queue.allDelayed(),
      locks: await queue.locks(),
      leader: await queue.leader(),
    };
    if (probe) {
      result.scheduledAt = await queue.scheduledAt(probe.queue, probe.class, probe.args ?? []);
    }
    emit(result);
  } finally {
    await queue.end();
  }
});
