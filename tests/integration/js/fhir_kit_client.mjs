// Drives the real npm client fhir-kit-client (2.0.3) against `chtlink serve`: CRUD, search with
// paging (nextPage), history and a transaction on the FHIR listener (fhir.port).
//
// usage: node fhir_kit_client.mjs <chtlink binary> <npm node_modules dir>
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';

import serveProcess from './serve_process.js';

const [binary, nodeModules] = process.argv.slice(2);
if (!binary || !nodeModules) {
  console.error('usage: node fhir_kit_client.mjs <chtlink> <node_modules>');
  process.exit(2);
}
const {Client} = await import(
  pathToFileURL(path.join(nodeModules, 'fhir-kit-client', 'dist', 'index.js')).href);

const deadline = setTimeout(() => fail(new Error('timed out after 50 s')), 50000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chtlink-fhir-js-'));
let serve;  // the chtlink serve process, once started

function cleanup() {
  clearTimeout(deadline);
  if (serve && serve.child.exitCode === null) serve.child.kill('SIGTERM');
  fs.rmSync(dir, {recursive: true, force: true});
}

function fail(err) {
  console.error('FAIL (fhir-kit-client):', (err && err.stack) || err,
                err && err.response ? JSON.stringify(err.response.data) : '');
  if (serve) console.error('chtlink output:\n' + serve.output);
  cleanup();
  process.exit(1);
}

function startServer() {
  serve = serveProcess.startServe(binary, dir, 15000);
  return serve.ports;
}

async function main() {
  const ports = await startServer();
  assert.ok(ports.fhir > 0, 'port file lists the fhir listener');
  const client = new Client({baseUrl: `http://127.0.0.1:${ports.fhir}/fhir`});

  const meta = await client.capabilityStatement();
  assert.equal(meta.resourceType, 'CapabilityStatement');
  assert.equal(meta.fhirVersion, '4.0.1');

  // CRUD
  const created = await client.create({resourceType: 'Patient', body: {
    resourceType: 'Patient', id: 'ignored', identifier: [{system: 'cht', value: 'kit-1'}],
    name: [{family: 'Kit', given: ['Client']}], meta: {source: 'cht'}}});
  assert.notEqual(created.id, 'ignored');
  assert.equal(created.meta.versionId, '1');
  assert.equal(created.meta.source, 'cht');
  const read = await client.read({resourceType: 'Patient', id: created.id});
  assert.deepEqual(read, created);
  const updated = await client.update({resourceType: 'Patient', id: created.id,
                                       body: {...read, gender: 'female'}});
  assert.equal(updated.meta.versionId, '2');
  const v1 = await client.vread({resourceType: 'Patient', id: created.id, version: '1'});
  assert.equal(v1.gender, undefined);
  const patched = await client.patch({resourceType: 'Patient', id: created.id,
                                      jsonPatch: [{op: 'replace', path: '/gender', value: 'male'}]});
  assert.equal(patched.gender, 'male');

  // Search with paging: 23 Observations, pages of 5, followed with nextPage.
  for (let i = 0; i < 23; i++) {
    await client.create({resourceType: 'Observation', body: {
      resourceType: 'Observation', status: 'final', code: {text: 'steps'},
      subject: {reference: `Patient/${created.id}`}, valueQuantity: {value: i}}});
  }
  let bundle = await client.search({resourceType: 'Observation',
                                    searchParams: {subject: `Patient/${created.id}`, _count: 5}});
  assert.equal(bundle.total, 23);
  const seen = new Set();
  let pages = 0;
  while (bundle) {
    pages++;
    for (const e of bundle.entry || []) seen.add(e.resource.id);
    bundle = await client.nextPage({bundle});
  }
  assert.equal(pages, 5);
  assert.equal(seen.size, 23);
  const byIdentifier = await client.search({resourceType: 'Patient', searchParams: {identifier: 'cht|kit-1'}});
  assert.equal(byIdentifier.total, 1);

  // History
  const history = await client.resourceHistory({resourceType: 'Patient', id: created.id});
  assert.equal(history.type, 'history');
  assert.equal(history.total, 3);
  assert.deepEqual(history.entry.map((e) => e.resource.meta.versionId), ['3', '2', '1']);
  const typeHistory = await client.typeHistory({resourceType: 'Observation'});
  assert.equal(typeHistory.total, 23);

  // Transaction with urn:uuid references
  const tx = await client.transaction({body: {resourceType: 'Bundle', type: 'transaction', entry: [
    {fullUrl: 'urn:uuid:11111111-1111-1111-1111-111111111111',
     resource: {resourceType: 'Patient', identifier: [{system: 'cht', value: 'kit-2'}]},
     request: {method: 'POST', url: 'Patient', ifNoneExist: 'identifier=cht|kit-2'}},
    {resource: {resourceType: 'Encounter', status: 'finished', class: {code: 'AMB'},
                subject: {reference: 'urn:uuid:11111111-1111-1111-1111-111111111111'}},
     request: {method: 'POST', url: 'Encounter'}},
  ]}});
  assert.equal(tx.type, 'transaction-response');
  assert.equal(tx.entry[0].response.status, '201 Created');
  const patientRef = tx.entry[0].response.location.split('/_history')[0];
  const encounters = await client.search({resourceType: 'Encounter', searchParams: {subject: patientRef}});
  assert.equal(encounters.total, 1);

  // Delete: refused while Observations refer to the Patient (409, as HAPI), then allowed once
  // they are gone; a read is then 410.
  await assert.rejects(client.delete({resourceType: 'Patient', id: created.id}),
                       (err) => err.response && err.response.status === 409);
  for (const id of seen) await client.delete({resourceType: 'Observation', id});
  await client.delete({resourceType: 'Patient', id: created.id});
  await assert.rejects(client.read({resourceType: 'Patient', id: created.id}),
                       (err) => err.response && err.response.status === 410);

  console.log(`fhir-kit-client: CRUD, ${pages} search pages, history, transaction: ok`);
}

main().then(() => { cleanup(); process.exit(0); }, fail);
