#!/usr/bin/env node
/**
 * npm test runs this before the suites: src/ must have no import cycle, between files
 * or between folders (a folder is one concern; DESIGN.md's rule is that imports point
 * down the data flow). Type-only imports count too: a cycle of types is still two
 * concerns that cannot be read apart. Prints each cycle and exits 1 when there is one.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'), 'src');
const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** './x.js' from src/a/b.ts → src/a/x.ts */
function resolveImport(from, spec) {
  const target = path.resolve(path.dirname(from), spec).replace(/\.js$/, '.ts');
  return target.endsWith('.ts') ? target : `${target}.ts`;
}

function graphOf(files) {
  const graph = new Map(files.map((f) => [f, new Set()]));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const target = resolveImport(file, m[1] ?? m[2]);
      if (graph.has(target) && target !== file) graph.get(file).add(target);
    }
  }
  return graph;
}

/** Tarjan's strongly connected components; every component of two or more is a cycle. */
function cycles(graph) {
  let index = 0;
  const stack = [];
  const meta = new Map();
  const found = [];
  const visit = (v) => {
    meta.set(v, { index, low: index, onStack: true });
    index++;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!meta.has(w)) {
        visit(w);
        meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).low);
      } else if (meta.get(w).onStack) {
        meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).index);
      }
    }
    if (meta.get(v).low === meta.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        meta.get(w).onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component);
    }
  };
  for (const v of graph.keys()) if (!meta.has(v)) visit(v);
  return found;
}

/** src/a/b/c.ts → "a"; src/x.ts → "x" (a top-level file is its own concern). */
function folderOf(file) {
  const rel = path.relative(root, file).split(path.sep);
  return rel.length > 1 ? rel[0] : rel[0].replace(/\.ts$/, '');
}

const files = sources(root);
const fileGraph = graphOf(files);
const folderGraph = new Map();
for (const [from, tos] of fileGraph) {
  const a = folderOf(from);
  if (!folderGraph.has(a)) folderGraph.set(a, new Set());
  for (const to of tos) if (folderOf(to) !== a) folderGraph.get(a).add(folderOf(to));
}

const rel = (f) => path.relative(path.dirname(root), f);
const problems = [
  ...cycles(fileGraph).map((c) => `file cycle: ${c.map(rel).join(' <-> ')}`),
  ...cycles(folderGraph).map((c) => `folder cycle: ${c.map((f) => `src/${f}`).join(' <-> ')}`),
];
if (problems.length) {
  for (const p of problems) console.error(`check-imports: ${p}`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files in src/, no import cycle between files or folders`);
