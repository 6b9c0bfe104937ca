"use strict";
// Run exactly one node-resque Scheduler poll: take the leader lock, promote every due delayed
// job, then clean workers whose last ping is older than --stuck-worker-timeout milliseconds.
//   node scheduler.js [--name NAME] [--stuck-worker-timeout MS (0 disables; default 3600000)]
//                     [--retry-stuck-jobs] [--leader-lock-timeout S]
// Prints {"leader": bool, "transferred": [{"timestamp", "job"}],
// "cleaned": [{"worker", "errorPayload", "delta"}], "errors": [...]}.

const os = require("os");
const { NodeResque, connectionOptions, emit, intArg, main, watchErrors } = require("./lib");

main(async (args) => {
  const scheduler = new NodeResque.Scheduler({
    connection: connectionOptions(args),
    name: args.name ?? `${os.hostname()}:${process.pid}`,
    stuckWorkerTimeout: intArg(args, "stuck-worker-timeout", 3600000),
    leaderLockTimeout: intArg(args, "leader-lock-timeout", 180),
    retryStuckJobs: args["retry-stuck-jobs"] === true,
    timeout: 100,
  });
  const errors = [];
  const transferred = [];
  const cleaned = [];
  let leader = false;
  watchErrors(scheduler, errors);
  scheduler.on("leader", () => {
    leader = true;
  });
  scheduler.on("transferredJob", (timestamp, job) => transferred.push({ timestamp, job }));
  scheduler.on("cleanStuckWorker", (worker, errorPayload, delta) =>
    cleaned.push({ worker, errorPayload: errorPayload ?? null, delta }),
  );
  await scheduler.connect();
  if (!scheduler.connection || !scheduler.connection.connected) {
    throw new Error(`cannot connect to Redis: ${errors.join("; ") || "unknown error"}`);
  }
  // Not start(): with running false, poll() does one full pass and schedules no next one.
  await scheduler.poll();
  await scheduler.end();
  emit({ leader, transferred, cleaned, errors });
  return errors.length ? 1 : 0;
});
