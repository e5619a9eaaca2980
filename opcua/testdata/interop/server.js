// A node-opcua server serving Pilotline's information model for machines
// described in a JSON spec written by the Go interop test:
//   node server.js <spec.json>
// spec: {port, pkiDir, user, password, machines: [{id, signals: [{path: [[nsUri, name]...], type, value, writable}]}]}
// Prints one JSON line {"ready": true, "url": ...} once listening.
"use strict";
const fs = require("fs");
const {
  OPCUAServer, OPCUACertificateManager, Variant, DataType, StatusCodes, LocalizedText,
  MessageSecurityMode, SecurityPolicy, coerceNodeId,
} = require("node-opcua");

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

const types = {
  String: DataType.String, Double: DataType.Double, Int32: DataType.Int32, UInt32: DataType.UInt32,
  UInt16: DataType.UInt16, Boolean: DataType.Boolean, DateTime: DataType.DateTime, LocalizedText: DataType.LocalizedText,
};

function toValue(type, v) {
  if (type === "DateTime") return v ? new Date(v) : new Date(0);
  if (v === null || v === undefined) {
    if (type === "String") return "";
    if (type === "Boolean") return false;
    if (type !== "LocalizedText") return 0;
  }
  if (type === "LocalizedText") return new LocalizedText({ text: v || "" });
  return v;
}

(async () => {
  const certificateManager = new OPCUACertificateManager({
    rootFolder: spec.pkiDir,
    automaticallyAcceptUnknownCertificate: true,
  });
  const server = new OPCUAServer({
    port: spec.port,
    hostname: "127.0.0.1",
    alternateHostname: ["127.0.0.1"],
    serverCertificateManager: certificateManager,
    securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
    allowAnonymous: true,
    userManager: {
      isValidUser: (u, p) => !!spec.user && u === spec.user && p === spec.password,
    },
    serverInfo: { applicationUri: "urn:pilotline:interop:node-opcua" },
  });
  await server.initialize();
  const as = server.engine.addressSpace;
  const ns = {};
  for (const uri of ["http://opcfoundation.org/UA/DI/", "http://opcfoundation.org/UA/Machinery/",
    "http://opcfoundation.org/UA/MachineTool/", "urn:pilotline:ua:line"]) {
    ns[uri] = as.getNamespace(uri) || as.registerNamespace(uri);
  }
  const pl = ns["urn:pilotline:ua:line"];
  const qn = ([uri, name]) => ({ name, namespaceIndex: uri ? as.getNamespaceIndex(uri) : 0 });
  const machineToolType = ns["http://opcfoundation.org/UA/MachineTool/"].addObjectType({
    browseName: "MachineToolType", nodeId: "i=13",
  });
  const machines = ns["http://opcfoundation.org/UA/Machinery/"].addFolder(as.rootFolder.objects, {
    browseName: qn(["http://opcfoundation.org/UA/Machinery/", "Machines"]), nodeId: "i=1001",
  });
  const accepted = {};
  for (const m of spec.machines) {
    // a real server names its machine as it likes; the client also finds it by type
    const obj = pl.addObject({ organizedBy: machines, browseName: qn(["urn:pilotline:ua:line", m.browseName || m.id]), typeDefinition: machineToolType });
    const folders = {};
    const vals = {};
    for (const s of m.signals) {
      let parent = obj;
      for (let d = 0; d < s.path.length - 1; d++) {
        const k = JSON.stringify(s.path.slice(0, d + 1));
        if (!folders[k]) folders[k] = pl.addObject({ componentOf: parent, browseName: qn(s.path[d]) });
        parent = folders[k];
      }
      const key = JSON.stringify(s.path);
      vals[key] = toValue(s.type, s.value);
      const dataType = types[s.type];
      const name = s.path[s.path.length - 1][1];
      pl.addVariable({
        componentOf: parent,
        browseName: qn(s.path[s.path.length - 1]),
        dataType,
        accessLevel: s.writable ? "CurrentRead | CurrentWrite" : "CurrentRead",
        userAccessLevel: s.writable ? "CurrentRead | CurrentWrite" : "CurrentRead",
        value: {
          get: () => new Variant({ dataType, value: vals[key] }),
          set: (variant) => {
            if (name === "Seq" && s.path[s.path.length - 2][1] === "Dispatch") {
              const acc = accepted[m.id] || 0;
              if (variant.value !== acc + 1) return StatusCodes.BadInvalidState;
              accepted[m.id] = variant.value;
              const accKey = JSON.stringify(s.path.slice(0, -1).concat([[s.path[0][0], "Accepted"]]));
              vals[accKey] = variant.value;
            }
            vals[key] = variant.value;
            return StatusCodes.Good;
          },
        },
      });
    }
  }
  await server.start();
  const url = `opc.tcp://127.0.0.1:${spec.port}`;
  process.stdout.write(JSON.stringify({ ready: true, url }) + "\n");
  const stop = async () => { await server.shutdown(0); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(1);
});
