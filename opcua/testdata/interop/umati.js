// A third-party umati server for the opcua package's end-to-end tests:
// node-opcua with the OPC Foundation nodesets (DI, Machinery, IA, Machinery
// Jobs, ISA-95 job control, MachineTool 1.02) serving pure-umati machine
// tools named the way a vendor names them: machine objects in the vendor's
// namespace under Machinery's Machines folder, typed MachineToolType or a
// vendor subtype of it, with Channel1, Spindle1, Job1…, Tool1 instances of
// the standard types. No Pilotline namespace.
//
//   node umati.js <spec.json>
//
// spec: {port, pkiDir, securityNone, user, password, trustedOnly,
//        machines: [{browseName, subtype, jobs}]}
// Prints {"ready": true, "url": ...} once listening, then reads one JSON
// command per line on stdin and answers each with one JSON line:
//   {"op": "program", "machine": M, "name": N, "state": "Running"|"Ended"|"Interrupted"|"Aborted"}
//   {"op": "mode", "machine": M, "mode": 0..5}
//   {"op": "run", "machine": M, "job": K}          RunsCompleted of job K and the lifetime count +1
//   {"op": "alarm", "machine": M, "name": A, "text": T, "severity": S, "active": bool}
//   {"op": "null1970", "machine": M}               the active program's state with a 1970 source time
"use strict";
const fs = require("fs");
const {
  OPCUAServer, OPCUACertificateManager, DataType, LocalizedText, MessageSecurityMode, SecurityPolicy,
  coerceNodeId, makeAccessLevelFlag,
} = require("node-opcua");
const { nodesets } = require("node-opcua-nodesets");

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const NS = {
  DI: "http://opcfoundation.org/UA/DI/", MA: "http://opcfoundation.org/UA/Machinery/",
  MT: "http://opcfoundation.org/UA/MachineTool/", VENDOR: "urn:acme-grinding:machines",
};

(async () => {
  const certificateManager = new OPCUACertificateManager({
    rootFolder: spec.pkiDir,
    automaticallyAcceptUnknownCertificate: !spec.trustedOnly,
  });
  await certificateManager.initialize();
  const securityPolicies = [SecurityPolicy.Basic256Sha256];
  const securityModes = [MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt];
  if (spec.securityNone) {
    securityPolicies.unshift(SecurityPolicy.None);
    securityModes.unshift(MessageSecurityMode.None);
  }
  const server = new OPCUAServer({
    port: spec.port,
    hostname: "127.0.0.1",
    alternateHostname: ["127.0.0.1"],
    serverCertificateManager: certificateManager,
    securityPolicies,
    securityModes,
    allowAnonymous: !spec.user,
    userManager: { isValidUser: (u, p) => !!spec.user && u === spec.user && p === spec.password },
    serverInfo: { applicationUri: "urn:acme-grinding:umati-server" },
    nodeset_filename: [nodesets.standard, nodesets.di, nodesets.machinery, nodesets.ia,
      nodesets.isa95JobControl, nodesets.machineryJobs, nodesets.machineTool],
  });
  await server.initialize();
  const as = server.engine.addressSpace;
  const vendor = as.registerNamespace(NS.VENDOR);
  const ix = (uri) => (uri ? as.getNamespaceIndex(uri) : 0);
  const mtType = (name) => as.findObjectType(name, ix(NS.MT));
  const qv = (name) => ({ name, namespaceIndex: vendor.index });
  const machinesFolder = as.findNode(coerceNodeId(`ns=${ix(NS.MA)};i=1001`));
  const child = (node, uri, name) => node.getChildByName(name, ix(uri));

  const set = (v, dataType, value, when) => {
    const t = when || new Date();
    v.setValueFromSource({ dataType, value }, undefined, t);
  };
  const text = (s) => new LocalizedText({ text: s, locale: "en" });

  let machineType = mtType("MachineToolType");
  const subtypes = {};
  const machines = {};
  for (const m of spec.machines) {
    let type = machineType;
    if (m.subtype) {
      if (!subtypes[m.subtype]) {
        subtypes[m.subtype] = vendor.addObjectType({ browseName: m.subtype, subtypeOf: machineType });
      }
      type = subtypes[m.subtype];
    }
    const obj = machineType.instantiate({
      browseName: qv(m.browseName),
      organizedBy: machinesFolder,
      optionals: ["Production.ProductionPlan", "Production.Statistics", "Production.Statistics.PartsProducedInLifetime",
        "Notification.Messages", "Equipment.Tools", "Identification.Model"],
      namespace: vendor,
    });
    if (type !== machineType) {
      // a vendor's own type: re-point the instance's type definition at the subtype
      obj.removeReference({ referenceType: "HasTypeDefinition", isForward: true, nodeId: machineType.nodeId });
      obj.addReference({ referenceType: "HasTypeDefinition", isForward: true, nodeId: type.nodeId });
    }
    const ident = child(obj, NS.DI, "Identification");
    set(child(ident, NS.DI, "Manufacturer"), DataType.LocalizedText, text("Acme Grinding"));
    set(child(ident, NS.DI, "SerialNumber"), DataType.String, "AG-" + m.browseName);
    set(child(ident, NS.DI, "ProductInstanceUri"), DataType.String, "urn:acme-grinding:" + m.browseName);
    const monitoring = child(obj, NS.MT, "Monitoring");
    const mtool = child(monitoring, NS.MT, "MachineTool");
    const opMode = child(mtool, NS.MT, "OperationMode");
    set(opMode, DataType.Int32, 1);
    const channel = mtType("ChannelMonitoringType").instantiate({ browseName: qv("Channel1"), componentOf: monitoring, namespace: vendor });
    set(child(channel, NS.MT, "ChannelState"), DataType.Int32, 0);
    set(child(channel, NS.MT, "FeedOverride"), DataType.Double, 100);
    const spindle = mtType("SpindleMonitoringType").instantiate({ browseName: qv("Spindle1"), componentOf: monitoring, optionals: ["Override"], namespace: vendor });
    set(child(spindle, NS.MT, "IsRotating"), DataType.Boolean, false);
    const production = child(obj, NS.MT, "Production");
    const active = child(production, NS.MT, "ActiveProgram");
    set(child(active, NS.MT, "Name"), DataType.String, "");
    set(child(active, null, "NumberInList"), DataType.UInt16, 0);
    const progState = child(child(active, NS.MT, "State"), null, "CurrentState");
    set(progState, DataType.LocalizedText, text("Initializing"));
    const plan = child(production, NS.MT, "ProductionPlan");
    const jobs = [];
    for (let k = 0; k < (m.jobs || 1); k++) {
      const job = mtType("ProductionJobType").instantiate({ browseName: qv("Job" + (k + 1)), componentOf: plan, namespace: vendor });
      set(child(job, NS.MT, "Identifier"), DataType.String, `${m.browseName}-J${k + 1}`);
      set(child(job, null, "NumberInList"), DataType.UInt16, k);
      set(child(job, NS.MT, "RunsPlanned"), DataType.UInt32, 1000);
      const runs = child(job, NS.MT, "RunsCompleted");
      set(runs, DataType.UInt32, 0);
      set(child(child(job, NS.MT, "State"), null, "CurrentState"), DataType.LocalizedText, text("Running"));
      jobs.push({ runs, n: 0 });
    }
    const lifetime = child(child(production, NS.MT, "Statistics"), NS.MT, "PartsProducedInLifetime");
    set(lifetime, DataType.UInt32, 0);
    const tools = child(child(obj, NS.MT, "Equipment"), NS.MT, "Tools");
    const tool = mtType("ToolType").instantiate({ browseName: qv("Tool1"), componentOf: tools, namespace: vendor });
    set(child(tool, NS.MT, "ControlIdentifier1"), DataType.UInt32, 1);
    set(child(tool, NS.MT, "Locked"), DataType.Boolean, false);
    const messages = child(child(obj, NS.MT, "Notification"), NS.MT, "Messages");
    // Server → machine → Messages: the notifier hierarchy alarms travel up
    messages.setEventNotifier(1);
    obj.setEventNotifier(1);
    as.rootFolder.objects.server.addReference({ referenceType: "HasNotifier", nodeId: obj });
    obj.addReference({ referenceType: "HasEventSource", nodeId: messages });
    // a vendor's own counter, outside umati: mapped by configuration
    const acme = vendor.addObject({ componentOf: obj, browseName: qv("AcmeData") });
    const partsGood = vendor.addVariable({
      componentOf: acme, browseName: qv("PartsGood"), nodeId: `s=${m.browseName}.PartsGood`, dataType: "UInt32",
    });
    set(partsGood, DataType.UInt32, 0);
    machines[m.browseName] = { obj, opMode, active, progState, jobs, lifetime, partsGood, messages, alarms: {}, count: 0 };
  }

  const commands = {
    program(c, m) {
      if (c.name !== undefined) set(child(m.active, NS.MT, "Name"), DataType.String, c.name);
      set(m.progState, DataType.LocalizedText, text(c.state));
    },
    mode(c, m) { set(m.opMode, DataType.Int32, c.mode); },
    run(c, m) {
      const j = m.jobs[c.job || 0];
      j.n++;
      m.count++;
      const now = new Date();
      set(j.runs, DataType.UInt32, j.n, now);
      set(m.lifetime, DataType.UInt32, m.count, now);
      set(m.partsGood, DataType.UInt32, 10 * m.count, now);
    },
    null1970(c, m) { set(m.progState, DataType.LocalizedText, text("Ended"), new Date(0)); },
    alarm(c, m) {
      let a = m.alarms[c.name];
      if (!a) {
        a = vendor.instantiateAlarmCondition("AlarmConditionType", {
          browseName: qv(c.name), componentOf: m.messages, conditionSource: m.messages, conditionName: c.name,
          inputNode: m.opMode,
        });
        a.setEnabledState(true);
        m.alarms[c.name] = a;
      }
      a.activeState.setValue(!!c.active);
      a.raiseNewCondition({ message: c.text || c.name, severity: c.severity || 500, retain: !!c.active });
    },
  };

  await server.start();
  const url = `opc.tcp://127.0.0.1:${spec.port}`;
  process.stdout.write(JSON.stringify({ ready: true, url }) + "\n");
  let buf = "";
  process.stdin.on("data", (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const c = JSON.parse(line);
        const m = machines[c.machine];
        if (!m || !commands[c.op]) throw new Error(`bad command ${line}`);
        commands[c.op](c, m);
        process.stdout.write(JSON.stringify({ ok: true }) + "\n");
      } catch (err) {
        process.stdout.write(JSON.stringify({ ok: false, error: String(err && (err.message || err.stack) || err) }) + "\n");
        if (process.env.UMATI_DEBUG) process.stderr.write(String(err.stack) + "\n");
      }
    }
  });
  const stop = async () => { await server.shutdown(0); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop);
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(1);
});
