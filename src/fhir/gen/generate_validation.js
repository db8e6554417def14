#!/usr/bin/env node
// Turns the StructureDefinitions, ValueSets and CodeSystems of the official R4 package
// (hl7.fhir.r4.examples 4.0.1) into the compact tables the validator walks
// (src/fhir/validation/validation_tables_internal.h describes them).
//
// Kept: every specialization (primitive types, complex types, resources), the datatype profiles
// core elements refer to (SimpleQuantity, MoneyQuantity) and the resource profiles of the package
// (vitalsigns, cholesterol, ...) for meta.profile. Slice elements of profiles are left out: the
// validator does not evaluate slicing. ValueSets are expanded here, once, from the package's
// CodeSystems; a ValueSet that needs anything outside the package (SNOMED, LOINC, UCUM,
// filters other than is-a) is marked as not expandable and its bindings are not checked.
// Usage: generate_validation.js <package dir> <output .cc>
'use strict';
const fs = require('fs');
const path = require('path');

const [pkgDir, outFile] = process.argv.slice(2);
function fail(msg) {
  process.stderr.write(`generate_validation: ${msg}\n`);
  process.exit(1);
}
if (!pkgDir || !outFile) fail('usage: generate_validation.js <package dir> <output .cc>');
const manifest = path.join(pkgDir, 'package.json');
if (!fs.existsSync(manifest)) fail(`${manifest} not found; run scripts/setup.sh`);
const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8'));
if (pkg.name !== 'hl7.fhir.r4.examples' || pkg.version !== '4.0.1')
  fail(`expected hl7.fhir.r4.examples 4.0.1 in ${pkgDir}, found ${pkg.name} ${pkg.version}`);

function lit(s) {
  if (s === null || s === undefined) return 'nullptr';
  let out = '"';
  for (const b of Buffer.from(String(s), 'utf8')) {
    if (b === 0x22 || b === 0x5c) out += '\\' + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f && b !== 0x3f) out += String.fromCharCode(b);
    else out += '\\' + b.toString(8).padStart(3, '0');
  }
  return out + '"';
}

const kSdPrefix = 'http://hl7.org/fhir/StructureDefinition/';
const kFhirType = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';
const kSystemTypes = {
  'http://hl7.org/fhirpath/System.String': 'string',
  'http://hl7.org/fhirpath/System.Boolean': 'boolean',
  'http://hl7.org/fhirpath/System.Integer': 'integer',
  'http://hl7.org/fhirpath/System.Decimal': 'decimal',
  'http://hl7.org/fhirpath/System.Date': 'date',
  'http://hl7.org/fhirpath/System.DateTime': 'dateTime',
  'http://hl7.org/fhirpath/System.Time': 'time',
};
const shortName = (url) => (url.startsWith(kSdPrefix) ? url.slice(kSdPrefix.length) : url);
const noVersion = (url) => (url || '').split('|')[0];

const sds = [];
const valueSets = new Map();
const codeSystems = new Map();
for (const f of fs.readdirSync(pkgDir).sort()) {
  if (!f.endsWith('.json')) continue;
  if (f.startsWith('StructureDefinition-')) {
    const sd = JSON.parse(fs.readFileSync(path.join(pkgDir, f), 'utf8'));
    if (!sd.snapshot || sd.kind === 'logical') continue;
    // Resource and Element are the roots: no baseDefinition, no derivation.
    const keep = sd.derivation === 'specialization' || (!sd.baseDefinition && sd.kind !== 'logical') ||
        (sd.derivation === 'constraint' && sd.type !== 'Extension' && !sd.abstract &&
         (sd.kind === 'resource' || sd.kind === 'complex-type') && sd.id !== 'elementdefinition-de');
    if (keep) sds.push(sd);
  } else if (f.startsWith('ValueSet-')) {
    const vs = JSON.parse(fs.readFileSync(path.join(pkgDir, f), 'utf8'));
    if (vs.url) valueSets.set(vs.url, vs);
  } else if (f.startsWith('CodeSystem-')) {
    const cs = JSON.parse(fs.readFileSync(path.join(pkgDir, f), 'utf8'));
    if (cs.url) codeSystems.set(cs.url, cs);
  }
}

// ---- ValueSet expansion ----------------------------------------------------------------------
const kMaxCodes = 5000;
function allCodes(cs) {
  const out = [];
  const walk = (list) => { for (const c of list || []) { out.push(c.code); walk(c.concept); } };
  walk(cs.concept);
  return out;
}
function descendants(cs, code, includeSelf) {
  let found = null;
  const find = (list) => {
    for (const c of list || []) {
      if (c.code === code) { found = c; return; }
      find(c.concept);
      if (found) return;
    }
  };
  find(cs.concept);
  if (!found) return null;
  const out = includeSelf ? [found.code] : [];
  const walk = (list) => { for (const c of list || []) { out.push(c.code); walk(c.concept); } };
  walk(found.concept);
  // Some code systems express hierarchy with a "subsumedBy" property instead of nesting.
  const parents = new Map();
  for (const c of allConcepts(cs)) {
    for (const p of c.property || []) {
      if (p.code === 'subsumedBy' && p.valueCode) {
        if (!parents.has(p.valueCode)) parents.set(p.valueCode, []);
        parents.get(p.valueCode).push(c.code);
      }
    }
  }
  const queue = [code];
  const seen = new Set(out);
  while (queue.length) {
    for (const child of parents.get(queue.shift()) || []) {
      if (!seen.has(child)) { seen.add(child); out.push(child); queue.push(child); }
    }
  }
  return out;
}
function allConcepts(cs) {
  const out = [];
  const walk = (list) => { for (const c of list || []) { out.push(c); walk(c.concept); } };
  walk(cs.concept);
  return out;
}
// Codes of one include/exclude entry as "system|code" strings, or null when not expandable.
function expandEntry(entry, depth) {
  let result = null;
  if (entry.system) {
    const system = noVersion(entry.system);
    if (entry.concept) {
      result = entry.concept.map((c) => system + '|' + c.code);
    } else {
      const cs = codeSystems.get(system);
      if (!cs || cs.content !== 'complete') return null;
      if (entry.filter) {
        let codes = null;
        for (const fl of entry.filter) {
          let these;
          if (fl.property === 'concept' && (fl.op === 'is-a' || fl.op === 'descendent-of')) {
            these = descendants(cs, fl.value, fl.op === 'is-a');
          } else {
            return null;
          }
          if (!these) return null;
          codes = codes === null ? these : codes.filter((c) => these.includes(c));
        }
        result = codes.map((c) => system + '|' + c);
      } else {
        result = allCodes(cs).map((c) => system + '|' + c);
      }
    }
  }
  for (const ref of entry.valueSet || []) {
    const sub = expand(noVersion(ref), depth + 1);
    if (!sub) return null;
    result = result === null ? sub : result.filter((c) => sub.includes(c));
  }
  return result;
}
const expansions = new Map();
function expand(url, depth = 0) {
  if (expansions.has(url)) return expansions.get(url);
  if (depth > 10) return null;
  const vs = valueSets.get(url);
  let codes = null;
  if (vs && vs.compose) {
    codes = [];
    for (const inc of vs.compose.include || []) {
      const e = expandEntry(inc, depth);
      if (!e) { codes = null; break; }
      codes.push(...e);
    }
    if (codes) {
      for (const exc of vs.compose.exclude || []) {
        const e = expandEntry(exc, depth);
        if (!e) { codes = null; break; }
        const drop = new Set(e);
        codes = codes.filter((c) => !drop.has(c));
      }
    }
  }
  if (codes) codes = [...new Set(codes)];
  if (codes && (codes.length === 0 || codes.length > kMaxCodes)) codes = null;
  expansions.set(url, codes);
  return codes;
}

// ---- StructureDefinitions --------------------------------------------------------------------
function typeCode(t) {
  const ext = (t.extension || []).find((e) => e.url === kFhirType);
  if (ext) return ext.valueUrl || ext.valueUri || ext.valueString;
  if (kSystemTypes[t.code]) return kSystemTypes[t.code];
  return t.code;
}
// "code" | "code@profile" | "Reference:T1,T2", joined with spaces.
function typesOf(e) {
  return (e.type || []).map((t) => {
    let s = typeCode(t);
    const profiles = (t.profile || []).map(shortName).filter((p) => p !== s);
    if (profiles.length) s += '@' + profiles[0];
    if (t.targetProfile && t.targetProfile.length) s += ':' + t.targetProfile.map(shortName).join(',');
    return s;
  }).join(' ');
}

const constraints = [];
const constraintIndex = new Map();
function constraintId(c) {
  const k = c.key + '\u0000' + (c.expression || '');
  if (!constraintIndex.has(k)) {
    constraintIndex.set(k, constraints.length);
    constraints.push(c);
  }
  return constraintIndex.get(k);
}
const vsIndex = new Map();
const vsList = [];
function valueSetId(url) {
  if (!vsIndex.has(url)) {
    const codes = expand(url);
    vsIndex.set(url, vsList.length);
    vsList.push({ url, codes });
  }
  return vsIndex.get(url);
}
const kStrength = { required: 1, extensible: 2, preferred: 3 };

const structures = [];
const elements = [];
sds.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
for (const sd of sds) {
  const first = elements.length;
  for (const e of sd.snapshot.element) {
    if ((e.id || '').includes(':')) continue;  // slices: not evaluated
    const fixedKey = Object.keys(e).find((k) => k.startsWith('fixed'));
    const patternKey = Object.keys(e).find((k) => k.startsWith('pattern'));
    let strength = 0;
    let vs = -1;
    if (e.binding && kStrength[e.binding.strength] && e.binding.valueSet) {
      strength = kStrength[e.binding.strength];
      vs = valueSetId(noVersion(e.binding.valueSet));
    }
    elements.push({
      path: e.path,
      min: e.min || 0,
      max: e.max === '*' ? -1 : parseInt(e.max || '1', 10),
      types: typesOf(e),
      contentRef: e.contentReference ? e.contentReference.replace(/^#/, '') : null,
      strength, vs,
      fixed: fixedKey ? JSON.stringify(e[fixedKey]) : null,
      pattern: patternKey ? JSON.stringify(e[patternKey]) : null,
      constraints: (e.constraint || []).filter((c) => c.expression).map(constraintId).join(' '),
      modifier: !!e.isModifier,
    });
  }
  structures.push({
    name: sd.derivation === 'constraint' ? sd.id : sd.type,
    url: sd.url,
    type: sd.type,
    kind: sd.kind,
    base: sd.baseDefinition ? shortName(sd.baseDefinition) : null,
    profile: sd.derivation === 'constraint',
    abstract: !!sd.abstract,
    first,
    count: elements.length - first,
  });
}
if (structures.length < 200 || constraints.length < 200) {
  fail(`package in ${pkgDir} looks incomplete (${structures.length} structures, ${constraints.length} invariants)`);
}

const codes = [];
const vsRows = vsList.map((v) => {
  const first = codes.length;
  for (const c of v.codes || []) {
    const bar = c.indexOf('|');
    codes.push([c.slice(0, bar), c.slice(bar + 1)]);
  }
  return `    {${lit(v.url)}, ${v.codes ? 'true' : 'false'}, ${first}, ${codes.length - first}},`;
});

let out = '// Generated by src/fhir/gen/generate_validation.js from hl7.fhir.r4.examples 4.0.1.\n' +
  '// Do not edit; rebuilt whenever the package or the generator changes.\n' +
  '#include "fhir/validation/validation_tables_internal.h"\n\n' +
  'namespace chtlink::fhir::validation::generated {\n\n';
out += 'const RawStructure kStructures[] = {\n' + structures.map((s) =>
  `    {${lit(s.name)}, ${lit(s.url)}, ${lit(s.type)}, ${lit(s.kind)}, ${lit(s.base)}, ${s.profile}, ${s.abstract}, ${s.first}, ${s.count}},`).join('\n') +
  `\n};\nconst size_t kStructureCount = ${structures.length};\n\n`;
out += 'const RawElement kElements[] = {\n' + elements.map((e) =>
  `    {${lit(e.path)}, ${e.min}, ${e.max}, ${lit(e.types)}, ${lit(e.contentRef)}, ${e.strength}, ${e.vs}, ${lit(e.fixed)}, ${lit(e.pattern)}, ${lit(e.constraints)}, ${e.modifier}},`).join('\n') +
  `\n};\nconst size_t kElementCount = ${elements.length};\n\n`;
out += 'const RawConstraint kConstraints[] = {\n' + constraints.map((c) =>
  `    {${lit(c.key)}, ${lit(c.severity)}, ${lit(c.human)}, ${lit(c.expression)}},`).join('\n') +
  `\n};\nconst size_t kConstraintCount = ${constraints.length};\n\n`;
out += 'const RawValueSet kValueSets[] = {\n' + vsRows.join('\n') +
  `\n};\nconst size_t kValueSetCount = ${vsList.length};\n\n`;
out += 'const RawCode kCodes[] = {\n' + codes.map(([s, c]) => `    {${lit(s)}, ${lit(c)}},`).join('\n') +
  `\n};\nconst size_t kCodeCount = ${codes.length};\n\n}  // namespace chtlink::fhir::validation::generated\n`;
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile + '.tmp', out);
fs.renameSync(outFile + '.tmp', outFile);
