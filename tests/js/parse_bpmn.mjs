// Parse a BPMN 2.0 file with bpmn-moddle (the library under bpmn.io and Camunda Modeler)
// and print, as JSON: the parser's warnings and every element it understood.
// usage: node parse_bpmn.mjs FILE.bpmn
import { readFileSync } from "node:fs";
import { BpmnModdle } from "bpmn-moddle";

const xml = readFileSync(process.argv[2], "utf8");
const moddle = new BpmnModdle();
try {
  const { rootElement, warnings, elementsById } = await moddle.fromXML(xml);
  const elements = Object.values(elementsById).map((e) => ({
    id: e.id,
    type: e.$type,
    name: e.name ?? null,
  }));
  // DI must point at elements that exist: collect what the diagram's shapes and edges refer to.
  const di = [];
  for (const diagram of rootElement.diagrams ?? []) {
    for (const el of diagram.plane.planeElement ?? []) {
      di.push({ id: el.id, type: el.$type, ref: el.bpmnElement ? el.bpmnElement.id : null });
    }
  }
  console.log(
    JSON.stringify({
      root: rootElement.$type,
      warnings: warnings.map((w) => String(w.message)),
      elements,
      di,
    }),
  );
} catch (err) {
  console.log(JSON.stringify({ error: String(err && err.message ? err.message : err) }));
  process.exitCode = 1;
}
