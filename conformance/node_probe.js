// The official socket.io-client 4.x against the server under test (TRANS-11).
// Usage: node node_probe.js URL TOKEN TASK_ID TRANSPORTS_JSON
// Prints one JSON line: {"ok": true, "ack": {...}} or {"ok": false, "error": "..."}.
const { io } = require("socket.io-client");

const [url, token, taskId, transports] = process.argv.slice(2);
const socket = io(url, {
  auth: { token },
  transports: JSON.parse(transports),
  reconnection: false,
  timeout: 5000,
});
const done = (result) => {
  process.stdout.write(JSON.stringify(result) + "\n");
  socket.close();
  process.exit(0);
};
const timer = setTimeout(() => done({ ok: false, error: "no answer within 8 s" }), 8000);
socket.on("connect_error", (err) => {
  clearTimeout(timer);
  done({ ok: false, error: `connect_error: ${err.message} ${JSON.stringify(err.data)}` });
});
socket.on("connect", () => {
  socket.emit("join_task", taskId, (ack) => {
    clearTimeout(timer);
    done({ ok: true, ack, transport: socket.io.engine.transport.name });
  });
});
