"use strict";
// Run one node-resque Worker until it has worked --count jobs, then end it cleanly.
//   node worker.js --queues q1,q2 [--count 1] [--name NAME] [--timeout 100] [--deadline 20000]
// Jobs it knows (anything else fails with node-resque's "No job defined" error):
//   add(a, b) -> a + b      echo(...args) -> args      fail(message) -> throws Error(message)
//   sleep(ms) -> resolves after ms milliseconds with ms
// Prints {"worker", "queues", "results": [{"event": "success"|"failure", "queue", "job",
// "result"|"error", "duration"}], "errors": [...]}; exit 2 if --deadline ms passed first.

const os = require("os");
const { NodeResque, connectionOptions, emit, intArg, main, watchErrors } = require("./lib");

const jobs = {
  add: { perform: async (a, b) => a + b },
  echo: { perform: async (...jobArgs) => jobArgs },
  fail: {
    perform: async (message) => {
      throw new Error(message || "failed on purpose");
    },
  },
  sleep: { perform: (ms) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)) },
};

main(async (args) => {
  if (!args.queues) throw new Error("--queues is required (comma-separated, or *)");
  // An array, never a string: node-resque polls a string's characters as queue names.
  const queues = String(args.queues).split(",").filter(Boolean);
  const count = intArg(args, "count", 1);
  const name = args.name ?? `${os.hostname()}:${process.pid}`;
  const worker = new NodeResque.Worker(
    { connection: connectionOptions(args), queues, name, timeout: intArg(args, "timeout", 100) },
    jobs,
  );
  const errors = [];
  const results = [];
  watchErrors(worker, errors);
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  const record = (entry) => {
    results.push(entry);
    if (results.length >= count) finish(0);
  };
  worker.on("success", (queue, job, result, duration) =>
    record({ event: "success", queue, job, result: result === undefined ? null : result, duration }),
  );
  worker.on("failure", (queue, job, failure, duration) =>
    record({ event: "failure", queue, job, error: String(failure), duration }),
  );
  await worker.connect();
  if (!worker.connection.connected) {
    throw new Error(`cannot connect to Redis: ${errors.join("; ") || "unknown error"}`);
  }
  const deadline = setTimeout(() => finish(2), intArg(args, "deadline", 20000));
  if (count > 0) await worker.start();
  else finish(0);
  const code = await done;
  clearTimeout(deadline);
  await worker.end();
  emit({ worker: name, queues, results, errors });
  return code;
});
