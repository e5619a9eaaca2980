// A node-opcua client that browses a Pilotline line the way a umati client
// would: Objects → Machines (found by browse name and namespace URI) → each
// machine with its type definition → a grinder's umati nodes.
//   node browse.js <url> [machine]
// Prints one JSON object.
"use strict";
const { OPCUAClient, MessageSecurityMode, SecurityPolicy, AttributeIds, BrowseDirection } = require("node-opcua");

const NS = {
  DI: "http://opcfoundation.org/UA/DI/", MA: "http://opcfoundation.org/UA/Machinery/",
  MT: "http://opcfoundation.org/UA/MachineTool/", PL: "urn:pilotline:ua:line",
};

(async () => {
  const url = process.argv[2];
  const want = process.argv[3] || "G01";
  const client = OPCUAClient.create({
    endpointMustExist: false, securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 2, initialDelay: 200, maxDelay: 1000 },
  });
  await client.connect(url);
  const session = await client.createSession();
  const nsArray = (await session.readNamespaceArray());
  const idx = (uri) => nsArray.indexOf(uri);
  const children = async (nodeId) => {
    const r = await session.browse({ nodeId, browseDirection: BrowseDirection.Forward, includeSubtypes: true,
      referenceTypeId: "HierarchicalReferences", resultMask: 63 });
    return r.references || [];
  };
  const find = (refs, uri, name) => refs.find((r) => r.browseName.name === name && r.browseName.namespaceIndex === idx(uri));
  const objects = await children("i=85");
  const machinesRef = find(objects, NS.MA, "Machines");
  if (!machinesRef) throw new Error("no MA:Machines under Objects");
  const machineRefs = await children(machinesRef.nodeId);
  const out = { machines: [], values: {} };
  for (const r of machineRefs) {
    out.machines.push({ name: r.browseName.name, typeDefinition: r.typeDefinition.toString(),
      machineToolType: r.typeDefinition.namespace === idx(NS.MT) && r.typeDefinition.value === 13 });
  }
  const m = machineRefs.find((r) => r.browseName.name === want);
  if (!m) throw new Error("machine " + want + " not found");
  const paths = {
    manufacturer: [[NS.DI, "Identification"], [NS.DI, "Manufacturer"]],
    serialNumber: [[NS.DI, "Identification"], [NS.DI, "SerialNumber"]],
    operationMode: [[NS.MT, "Monitoring"], [NS.MT, "MachineTool"], [NS.MT, "OperationMode"]],
    programName: [[NS.MT, "Production"], [NS.MT, "ActiveProgram"], [NS.MT, "Name"]],
    programState: [[NS.MT, "Production"], [NS.MT, "ActiveProgram"], [NS.MT, "State"], ["http://opcfoundation.org/UA/", "CurrentState"]],
    wheelLocked: [[NS.MT, "Equipment"], [NS.MT, "Tools"], [NS.PL, "Wheel1"], [NS.MT, "Locked"]],
    state: [[NS.PL, "Process"], [NS.PL, "State"]],
    parts: [[NS.PL, "Process"], [NS.PL, "PartsCounter"]],
  };
  for (const [key, path] of Object.entries(paths)) {
    let node = m.nodeId;
    for (const [uri, name] of path) {
      const next = find(await children(node), uri, name);
      if (!next) { node = null; break; }
      node = next.nodeId;
    }
    if (!node) { out.values[key] = null; continue; }
    const dv = await session.read({ nodeId: node, attributeId: AttributeIds.Value });
    let v = dv.value.value;
    if (v && typeof v === "object" && "text" in v) v = v.text;
    out.values[key] = { value: v, status: dv.statusCode.name, nodeId: node.toString() };
  }
  await session.close();
  await client.disconnect();
  process.stdout.write(JSON.stringify(out) + "\n");
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(1);
});
