"use strict";
// Enqueue one job with node-resque's Queue.
//   node enqueue.js --queue Q --class C [--args JSON] [--at MS | --in MS] [--suppress-duplicate]
//   node enqueue.js --batch '[{"queue": Q, "class": C, "args": [...]}, ...]'
// --at is a unix timestamp in milliseconds (enqueueAt), --in a delay in milliseconds
// (enqueueIn); without either the job is queued now (enqueue).
// Prints {"method": "...", "result": <node-resque's return value>, "payload": <job JSON>}.
// --batch enqueues each job now, in the order given (one process for many jobs), and prints
// {"method": "enqueue", "results": [...], "payloads": [<job JSON>, ...]}.

const { connectedQueue, emit, intArg, jsonArg, main } = require("./lib");

async function enqueueBatch(args) {
  const batch = jsonArg(args, "batch", []);
  if (!Array.isArray(batch) || batch.some((j) => !j || !j.queue || !j.class)) {
    throw new Error('--batch must be a JSON array of {"queue", "class", "args"} objects');
  }
  const { queue } = await connectedQueue(args);
  try {
    const results = [];
    const payloads = [];
    for (const job of batch) {
      const jobArgs = job.args ?? [];
      const result = await queue.enqueue(job.queue, job.class, jobArgs);
      results.push(result === undefined ? null : result);
      payloads.push(queue.encode(job.queue, job.class, jobArgs));
    }
    emit({ method: "enqueue", results, payloads });
  } finally {
    await queue.end();
  }
}

main(async (args) => {
  if (args.batch !== undefined) return enqueueBatch(args);
  if (!args.queue || !args.class) throw new Error("--queue and --class are required");
  const jobArgs = jsonArg(args, "args", []);
  const suppress = args["suppress-duplicate"] === true;
  const { queue } = await connectedQueue(args);
  try {
    let method;
    let result;
    if (args.at !== undefined) {
      method = "enqueueAt";
      result = await queue.enqueueAt(intArg(args, "at"), args.queue, args.class, jobArgs, suppress);
    } else if (args.in !== undefined) {
      method = "enqueueIn";
      result = await queue.enqueueIn(intArg(args, "in"), args.queue, args.class, jobArgs, suppress);
    } else {
      method = "enqueue";
      result = await queue.enqueue(args.queue, args.class, jobArgs);
    }
    // The exact bytes node-resque stores, so callers can compare payloads byte for byte.
    const payload = queue.encode(args.queue, args.class, jobArgs);
    emit({ method, result: result === undefined ? null : result, payload });
  } finally {
    await queue.end();
  }
});
