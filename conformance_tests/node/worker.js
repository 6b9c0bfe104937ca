"use strict";
// Run one node-resque Worker until it has worked --count jobs, then end it cleanly.
//   node worker.js --queues q1,q2 [--count 1] [--name NAME] [--timeout 100] [--deadline 20000]
//                  [--retry '{"retryLimit": 3, "retryDelay": 1000}'] [--tasks name1,name2]
// Jobs it knows (anything else fails with node-resque's "No job defined" error):
//   add(a, b) -> a + b      echo(...args) -> args      fail(message) -> throws Error(message)
//   sleep(ms) -> resolves after ms milliseconds with ms
// --retry gives every job node-resque's Retry plugin with those options. --tasks adds
// Actionhero-shaped jobs: perform(inputs) reads args[0] as the task's inputs object and
// returns {"task": name, "inputs": inputs} (a non-object args[0] throws, as a task would).
// Prints {"worker", "queues", "results": [{"event": "success"|"failure", "queue", "job",
// "result"|"error", "duration"}], "reEnqueued": [{"queue", "args", "delay",
// "remainingAttempts", "error"}], "errors": [...]}; exit 2 if --deadline ms passed first.
// A job the Retry plugin re-enqueued also counts towards --count (node-resque reports it
// as a success).

const os = require("os");
const {
  NodeResque,
  connectionOptions,
  emit,
  intArg,
  jsonArg,
  main,
  watchErrors,
} = require("./lib");

const baseJobs = {
  add: { perform: async (a, b) => a + b },
  echo: { perform: async (...jobArgs) => jobArgs },
  fail: {
    perform: async (message) => {
      throw new Error(message || "failed on purpose");
    },
  },
  sleep: { perform: (ms) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)) },
};

function taskJob(name) {
  return {
    perform: async (inputs) => {
      if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
        throw new Error(`task ${name} expects args[0] to be its inputs object`);
      }
      return { task: name, inputs };
    },
  };
}

function buildJobs(args) {
  const jobs = { ...baseJobs };
  for (const name of String(args.tasks ?? "").split(",").filter(Boolean)) {
    jobs[name] = taskJob(name);
  }
  const retry = jsonArg(args, "retry", null);
  if (retry) {
    for (const name of Object.keys(jobs)) {
      // A fresh options object per job: node-resque's Retry writes its defaults into it.
      jobs[name] = {
        ...jobs[name],
        plugins: [NodeResque.Plugins.Retry],
        pluginOptions: { Retry: { ...retry } },
      };
    }
  }
  return jobs;
}

main(async (args) => {
  if (!args.queues) throw new Error("--queues is required (comma-separated, or *)");
  // An array, never a string: node-resque polls a string's characters as queue names.
  const queues = String(args.queues).split(",").filter(Boolean);
  const count = intArg(args, "count", 1);
  const name = args.name ?? `${os.hostname()}:${process.pid}`;
  const worker = new NodeResque.Worker(
    { connection: connectionOptions(args), queues, name, timeout: intArg(args, "timeout", 100) },
    buildJobs(args),
  );
  const errors = [];
  const results = [];
  const reEnqueued = [];
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
  worker.on("reEnqueue", (queue, job, info) =>
    reEnqueued.push({
      queue,
      args: job.args ?? null,
      delay: info.delay,
      remainingAttempts: info.remainingAttempts,
      error: String(info.err),
    }),
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
  emit({ worker: name, queues, results, reEnqueued, errors });
  return code;
});
