"use strict";
// Call one node-resque Queue method with JSON arguments and print its JSON result.
//   node queue-call.js --method retryAndRemoveFailed --args '[{...failed job...}]'
// Only the Queue's own API methods may be called (see METHODS). Prints {"method", "result"}.

const { connectedQueue, emit, jsonArg, main } = require("./lib");

const METHODS = new Set([
  "enqueue", "enqueueAt", "enqueueIn", "queues", "delQueue", "length", "del", "delByFunction",
  "delDelayed", "scheduledAt", "timestamps", "delayedAt", "queued", "allDelayed", "locks",
  "delLock", "workers", "workingOn", "allWorkingOn", "forceCleanWorker", "cleanOldWorkers",
  "failedCount", "failed", "removeFailed", "retryAndRemoveFailed", "retryStuckJobs", "leader",
  "stats",
]);

main(async (args) => {
  if (!METHODS.has(args.method)) {
    throw new Error(`--method must be one of ${[...METHODS].join(", ")}; got ${args.method}`);
  }
  const callArgs = jsonArg(args, "args", []);
  if (!Array.isArray(callArgs)) throw new Error("--args must be a JSON array of arguments");
  const { queue } = await connectedQueue(args);
  try {
    const result = await queue[args.method](...callArgs);
    emit({ method: args.method, result: result === undefined ? null : result });
  } finally {
    await queue.end();
  }
});
