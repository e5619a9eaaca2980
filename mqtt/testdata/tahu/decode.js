// Decodes Sparkplug B payloads with the Eclipse Tahu payload library, as a
// host application would: DATA metrics carry only an alias, so their
// datatype is taken from the edge node's birth before Tahu decodes them.
//
// stdin: one JSON object per line, {"topic": "...", "payload": "<base64>"},
// in the order the broker delivered them.
// stdout: one JSON object per line, {"topic": "...", "payload": <Tahu's
// decoded payload>}, 64-bit integers as decimal strings.
"use strict";
const readline = require("readline");
const sparkplug = require("sparkplug-payload").get("spBv1.0");
const proto = require("sparkplug-payload/lib/sparkplugPayloadProto").org.eclipse.tahu.protobuf;

const types = {}; // group/node → alias → datatype

function isLong(v) {
  return v !== null && typeof v === "object" && typeof v.low === "number" && typeof v.high === "number" && typeof v.toString === "function";
}

function replacer(key, value) {
  if (isLong(value)) return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return value;
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  const parts = msg.topic.split("/"); // spBv1.0/group/TYPE/node[/device]
  const node = parts[1] + "/" + parts[3];
  const type = parts[2];
  let bytes = Buffer.from(msg.payload, "base64");
  const raw = proto.Payload.decode(bytes);
  if (type === "NBIRTH") types[node] = {};
  if (type === "NBIRTH" || type === "DBIRTH") {
    for (const m of raw.metrics || []) {
      if (m.alias !== null && m.alias !== undefined) types[node][m.alias.toString()] = m.datatype;
    }
  } else if (type !== "NDEATH") {
    let patched = false;
    for (const m of raw.metrics || []) {
      const has = m.datatype !== null && m.datatype !== undefined && m.datatype !== 0;
      if (!has && m.alias !== null && m.alias !== undefined && types[node]) {
        m.datatype = types[node][m.alias.toString()];
        patched = true;
      }
    }
    if (patched) bytes = proto.Payload.encode(raw).finish();
  }
  const decoded = sparkplug.decodePayload(bytes);
  process.stdout.write(JSON.stringify({ topic: msg.topic, payload: decoded }, replacer) + "\n");
});
