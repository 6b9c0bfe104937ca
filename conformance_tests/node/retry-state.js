"use strict";
// Read the Retry plugin's state for one job the way node-resque's Retry plugin addresses it:
// the key names come from node-resque's own Retry.retryKey()/failureKey(), not from this script.
//   node retry-state.js --queue Q --class C [--args JSON]
// Prints {"retryKey", "failureKey" (both with the namespace), "attempts" (the raw counter
// string or null), "attemptsTtl" (seconds; -2 absent, -1 no expiry), "lastError" (the parsed
// failure-resque-retry JSON or null), "lastErrorTtl"}.

const { NodeResque, connectedQueue, emit, jsonArg, main } = require("./lib");

main(async (args) => {
  if (!args.queue || !args.class) throw new Error("--queue and --class are required");
  const jobArgs = jsonArg(args, "args", []);
  const { queue } = await connectedQueue(args);
  try {
    // A plugin built on a Queue addresses Redis through queue.connection, as on a worker.
    const plugin = new NodeResque.Plugins.Retry(queue, args.class, args.queue, {}, jobArgs, {});
    const redis = queue.connection.redis;
    const retryKey = plugin.retryKey();
    const failureKey = plugin.failureKey();
    const lastError = await redis.get(failureKey);
    emit({
      retryKey,
      failureKey,
      attempts: await redis.get(retryKey),
      attemptsTtl: await redis.ttl(retryKey),
      lastError: lastError === null ? null : JSON.parse(lastError),
      lastErrorTtl: await redis.ttl(failureKey),
    });
  } finally {
    await queue.end();
  }
});
