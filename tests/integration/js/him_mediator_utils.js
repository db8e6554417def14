// Drives the real npm package openhim-mediator-utils (0.2.x: token auth; 0.4.x: Basic)
// against `chtlink serve`, whose admin API runs on HTTPS with its self-signed certificate.
//
// usage: node him_mediator_utils.js <chtlink binary> <0.2|0.4> <npm node_modules dir>
'use strict';

const assert = require('assert');
const fs = require('fs');
const https = require('https');
const os = require('os');
const path = require('path');

const {startServe} = require('./serve_process.js');

const [binaryArg, version, nodeModules] = process.argv.slice(2);
const binary = binaryArg && path.resolve(binaryArg);
if (!binaryArg || !version || !nodeModules) {
  console.error('usage: node him_mediator_utils.js <chtlink> <0.2|0.4> <node_modules>');
  process.exit(2);
}
const utils = require(path.resolve(nodeModules, `openhim-mediator-utils-${version}`));

const deadline = setTimeout(() => fail(new Error('timed out after 25 s')), 25000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chtlink-him-js-'));
let serve;  // the chtlink serve process, once started

function cleanup() {
  clearTimeout(deadline);
  utils.deactivateHeartbeat();
  if (serve && serve.child.exitCode === null) serve.child.kill('SIGTERM');
  fs.rmSync(dir, {recursive: true, force: true});
}

function fail(err) {
  console.error(`FAIL (openhim-mediator-utils ${version}):`, err && err.stack || err);
  if (serve) console.error('chtlink output:\n' + serve.output);
  cleanup();
  process.exit(1);
}

function startServer() {
  serve = startServe(binary, dir, 10000);
  return serve.ports;
}

// A call to the admin API as root with Basic auth (verification off: self-signed).
function api(port, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({
      host: '127.0.0.1', port, method, path: urlPath, rejectUnauthorized: false,
      headers: Object.assign(
        {Authorization: 'Basic ' + Buffer.from('root@openhim.org:openhim-password').toString('base64')},
        data ? {'Content-Type': 'application/json'} : {}),
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({status: res.statusCode, body: text}));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

const promisify = (fn) => (...args) => new Promise((resolve, reject) => {
  fn(...args, (err, value) => (err ? reject(err) : resolve(value)));
});

async function main() {
  const ports = await startServer();
  const apiURL = `https://127.0.0.1:${ports.api}`;
  const urn = `urn:mediator:utils-${version.replace('.', '-')}`;
  const options = {
    apiURL, username: 'root@openhim.org', password: 'openhim-password', trustSelfSigned: true, urn,
  };
  const mediatorConfig = {
    urn, version: '1.0.0', name: `utils ${version} test mediator`,
    endpoints: [{name: 'Mediator', host: '127.0.0.1', port: '6000', path: '/', primary: true, type: 'http'}],
    configDefs: [{param: 'fhirUrl', displayName: 'FHIR URL', type: 'string'}],
    config: {fhirUrl: 'http://fhir.local/fhir'},
    defaultChannelConfig: [{
      name: 'Mediator', urlPattern: '^/mediator/.*$', methods: ['GET', 'POST', 'PUT', 'DELETE'],
      type: 'http', allow: ['interop'],
      routes: [{name: 'Mediator', host: '127.0.0.1', port: '6000', pathTransform: 's/\\/mediator/',
                primary: true, type: 'http'}],
    }],
  };

  await promisify(utils.registerMediator)(options, mediatorConfig);
  // Registering the same version again is still a success (201).
  await promisify(utils.registerMediator)(options, mediatorConfig);

  const config = await promisify(utils.fetchConfig)(options);
  assert.deepStrictEqual(config, {fhirUrl: 'http://fhir.local/fhir'});

  // Heartbeats every 100 ms: no error, and a config change arrives as a 'config' event.
  const emitter = utils.activateHeartbeat(options, 100);
  const pushed = await new Promise((resolve, reject) => {
    emitter.on('error', reject);
    let changed = false;
    const change = async () => {
      const mediators = JSON.parse((await api(ports.api, 'GET', '/mediators')).body);
      const me = mediators.find((m) => m.urn === urn);
      if (!me || me._lastHeartbeat === undefined) return setTimeout(change, 50);
      const put = await api(ports.api, 'PUT', `/mediators/${urn}/config`, {fhirUrl: 'http://new/fhir'});
      if (put.status !== 200) return reject(new Error(`config PUT: ${put.status} ${put.body}`));
      changed = true;
    };
    emitter.on('config', (c) => { if (changed) resolve(c); });
    change().catch(reject);
  });
  utils.deactivateHeartbeat();
  assert.deepStrictEqual(pushed, {fhirUrl: 'http://new/fhir'});

  const mediators = JSON.parse((await api(ports.api, 'GET', '/mediators')).body);
  const me = mediators.find((m) => m.urn === urn);
  assert.ok(me, 'mediator listed');
  assert.strictEqual(typeof me._uptime, 'number');

  // Install the default channel, authenticated the way this library generation does.
  let headers;
  if (version === '0.2') {
    await promisify(utils.authenticate)(options);
    headers = utils.genAuthHeaders(options);
  } else {
    headers = utils.genAuthHeaders(options);
  }
  const install = await new Promise((resolve, reject) => {
    const data = JSON.stringify(['Mediator']);
    const req = https.request({
      host: '127.0.0.1', port: ports.api, method: 'POST', path: `/mediators/${urn}/channels`,
      rejectUnauthorized: false,
      headers: Object.assign({'Content-Type': 'application/json'}, headers),
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({status: res.statusCode, body: text}));
    });
    req.on('error', reject);
    req.end(data);
  });
  assert.strictEqual(install.status, 201, install.body);
  const channels = JSON.parse((await api(ports.api, 'GET', '/channels')).body);
  assert.ok(channels.some((c) => c.name === 'Mediator'), 'default channel installed');

  console.log(`PASS openhim-mediator-utils ${version}: register, fetchConfig, heartbeat, config push, install channels`);
  cleanup();
  process.exit(0);
}

main().catch(fail);
