// Prints one JavaScript error, as the first argument says, the way Node.js prints them.
'use strict';
const fs = require('fs');

function parse(text) {
  const n = Number(text);
  if (Number.isNaN(n)) throw new TypeError(`not a number: ${text}`);
  return n;
}

function load(text) {
  try {
    return parse(text);
  } catch (err) {
    throw new Error('cannot load config', { cause: err });
  }
}

switch (process.argv[2]) {
  case 'uncaught':
    load('x42');
    break;
  case 'console-cause':
    try {
      load('x42');
    } catch (err) {
      console.error('request 17 failed:');
      console.error(err);
    }
    break;
  case 'undefined':
    const cfg = {};
    console.log(cfg.server.port);
    break;
  case 'enoent':
    fs.readFileSync('/nonexistent/state.json');
    break;
}
