"use strict";
// node-resque 9 side of benchmarks/compare.py: start a Worker (--mode worker) or a MultiWorker
// (--mode multi, node-resque's defaults) on queue "bench", print "ready", then print
// "done <unix seconds>" (the wall clock when --jobs no-op jobs had succeeded) and exit. Connection: REDIS_URL and RESQUE_NAMESPACE (set by compare.py).
const NodeResque = require("node-resque");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((out, arg, i, all) => {
    if (arg.startsWith("--")) out.push([arg.slice(2), all[i + 1]]);
    return out;
  }, [])
);
const jobsWanted = Number(args.jobs);
const mode = args.mode || "worker";
const url = new URL(process.env.REDIS_URL);
const connectionDetails = {
  pkg: "ioredis",
  host: url.hostname,
  port: Number(url.port || 6379),
  database: Number((url.pathname || "/0").slice(1) || 0),
  namespace: process.env.RESQUE_NAMESPACE,
};
const jobs = { noop: { perform: async () => null } };

async function main() {
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const onSuccess = () => {
    done += 1;
    if (done === jobsWanted) finish();
  };
  let runner;
  if (mode === "multi") {
    runner = new NodeResque.MultiWorker({ connection: connectionDetails, queues: ["bench"] }, jobs);
  } else {
    runner = new NodeResque.Worker(
      { connection: connectionDetails, queues: ["bench"], timeout: 10 },
      jobs
    );
    await runner.connect();
  }
  runner.on("success", onSuccess);
  runner.on("error", (err) => console.error("node-resque error:", err && err.message));
  runner.start();
  console.log("ready");
  await finished;
  const { performance } = require("perf_hooks");
  const now = (performance.timeOrigin + performance.now()) / 1000;
  console.log(`done ${now}`);
  await runner.end();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
