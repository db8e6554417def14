// Starts `chtlink serve` for the node test scripts: every listener on a free port (port 0),
// the store in `dir`, no sandbox seeding, and its output collected for a failure report.
// The returned handle's `ports` resolves with the port file's name=port lines as an object.
'use strict';

const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');

function startServe(binary, dir, timeoutMs) {
  const portFile = path.join(dir, 'ports');
  const child = childProcess.spawn(binary, [
    'serve', '--port-file', portFile, '--set', 'server.port=0', '--set', 'him.api_port=0',
    '--set', 'fhir.port=0', '--set', 'mediator.port=0',
    '--set', 'cht_sim.port=0', '--set', 'sandbox.seed=false',
    '--set', `store.url=sqlite:${path.join(dir, 'chtlink.db')}`,
  ], {cwd: dir});
  const handle = {child, output: ''};
  child.stdout.on('data', (d) => { handle.output += d; });
  child.stderr.on('data', (d) => { handle.output += d; });
  handle.ports = new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (fs.existsSync(portFile)) {
        const ports = {};
        for (const line of fs.readFileSync(portFile, 'utf8').split('\n')) {
          const [name, port] = line.split('=');
          if (name) ports[name] = Number(port);
        }
        return resolve(ports);
      }
      if (child.exitCode !== null || Date.now() - started > timeoutMs) {
        return reject(new Error('chtlink did not start'));
      }
      setTimeout(poll, 20);
    };
    poll();
  });
  return handle;
}

module.exports = {startServe};
