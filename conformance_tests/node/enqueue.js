"use strict";
// Enqueue one job with node-resque's Queue.
//   node enqueue.js --queue Q --class C [--args JSON] [--at MS | --in MS] [--suppress-duplicate]
// --at is a unix timestamp in milliseconds (enqueueAt), --in a delay in milliseconds
// (enqueueIn); without either the job is queued now (enqueue).
// Prints {"method": "...", "result": <node-resque's return value>, "payload": <job JSON>}.

const { connectedQueue, emit, intArg, jsonArg, main } = require("./lib");

main(async (args) => {
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
