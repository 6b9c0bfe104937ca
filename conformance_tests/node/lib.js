"use strict";
// Shared plumbing for the interop scripts: argument parsing, the Redis connection options
// node-resque expects, and one JSON document on stdout per run.
//
// Connection (flags win over the environment):
//   --redis-url URL   or REDIS_URL        redis://[user:password@]host:port/db (rediss:// for TLS)
//   --host/--port/--db or REDIS_HOST / REDIS_PORT / REDIS_DB   (when no URL is given)
//   --namespace NS    or RESQUE_NAMESPACE  (default "resque")
// Scripts exit 0 after printing their result, 1 on an error (message on stderr), 2 when a
// deadline passed before the requested work was done (partial result still printed).

const NodeResque = require("node-resque");

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      throw new Error(`unexpected argument ${JSON.stringify(arg)}; options are --name value`);
    }
    const eq = arg.indexOf("=");
    if (eq > 0) {
      out[arg.slice(2, eq)] = arg.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      out[arg.slice(2)] = argv[++i];
    } else {
      out[arg.slice(2)] = true;
    }
  }
  return out;
}

function jsonArg(args, name, fallback) {
  if (args[name] === undefined) return fallback;
  try {
    return JSON.parse(args[name]);
  } catch (err) {
    throw new Error(`--${name} must be JSON: ${err.message}`);
  }
}

function intArg(args, name, fallback) {
  if (args[name] === undefined) return fallback;
  const value = Number(args[name]);
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, got ${args[name]}`);
  return value;
}

function connectionOptions(args) {
  const env = process.env;
  const namespace = args.namespace ?? env.RESQUE_NAMESPACE ?? "resque";
  // A short-lived script must fail fast, not let ioredis retry forever.
  const ioredis = { maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 5000 };
  const url = args["redis-url"] ?? env.REDIS_URL;
  if (url) {
    const u = new URL(url);
    if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
      throw new Error(`--redis-url must be redis:// or rediss://, got ${u.protocol}`);
    }
    if (u.username) ioredis.username = decodeURIComponent(u.username);
    if (u.password) ioredis.password = decodeURIComponent(u.password);
    if (u.protocol === "rediss:") ioredis.tls = {};
    const db = u.pathname.replace(/^\//, "");
    return {
      host: u.hostname || "127.0.0.1",
      port: u.port ? Number(u.port) : 6379,
      database: db ? Number(db) : 0,
      namespace,
      options: ioredis,
    };
  }
  return {
    host: args.host ?? env.REDIS_HOST ?? "127.0.0.1",
    port: Number(args.port ?? env.REDIS_PORT ?? 6379),
    database: Number(args.db ?? env.REDIS_DB ?? 0),
    namespace,
    options: ioredis,
  };
}

// node-resque emits connection errors instead of throwing them; turn them into failures.
function watchErrors(emitter, errors) {
  emitter.on("error", (err) => errors.push(String(err && err.stack ? err.stack : err)));
}

async function connectedQueue(args, jobs = {}) {
  const errors = [];
  const queue = new NodeResque.Queue({ connection: connectionOptions(args) }, jobs);
  watchErrors(queue, errors);
  await queue.connect();
  if (!queue.connection.connected) {
    throw new Error(`cannot connect to Redis: ${errors.join("; ") || "unknown error"}`);
  }
  return { queue, errors };
}

function emit(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}

function main(run) {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  run(args).then(
    (code) => process.exit(code ?? 0),
    (err) => {
      process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
      process.exit(1);
    },
  );
}

module.exports = {
  NodeResque,
  connectedQueue,
  connectionOptions,
  emit,
  intArg,
  jsonArg,
  main,
  watchErrors,
};
