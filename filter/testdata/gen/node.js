// Writes the lines of pino.log and bunyan.log with pino and bunyan, into the folder given
// (the one above this script's by default). Run where both are installed
// (npm install pino bunyan): node node.js [folder]
const fs = require("fs");
const path = require("path");
const pino = require("pino");
const bunyan = require("bunyan");

function emit(log) {
  log.debug({ entries: 42 }, "cache warmed");
  log.info({ addr: ":8080" }, "listening");
  log.warn({ disk: { free_mb: 512 } }, "disk almost full");
  log.error({ err: new Error('dial tcp: "café" refused') }, "request failed");
  log.fatal("giving up");
}

const dir = process.argv[2] || path.join(__dirname, "..");
const p = pino({ level: "debug" }, pino.destination({ dest: path.join(dir, "pino.log"), sync: true, append: false }));
emit(p);

const out = fs.openSync(path.join(dir, "bunyan.log"), "w");
const b = bunyan.createLogger({
  name: "app",
  level: "debug",
  serializers: bunyan.stdSerializers,
  stream: { write: (s) => fs.writeSync(out, s) },
});
emit(b);
fs.closeSync(out);
