// The Node baseline of benchmarks/server_bench.py: socket.io 4.x doing the reference server's
// hot path (verify the JWT on connect, join_task joins the room, send_message builds the
// message, emits new_message to the room, acks). No storage: the baseline gets that for free.
// Listens on 127.0.0.1:$PORT (0: any free port) and prints {"port": N} on stdout when ready.
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import { Server } from "socket.io";

const secret = process.env.TASKCHAT_JWT_SECRET ?? "";
const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false });

io.use((socket, next) => {
  try {
    socket.data.claims = jwt.verify(socket.handshake.auth?.token, secret, { algorithms: ["HS256"] });
    next();
  } catch {
    const err = new Error("invalid token");
    err.data = { code: "AUTH_INVALID" };
    next(err);
  }
});

io.on("connection", (socket) => {
  socket.on("join_task", (taskId, ack) => {
    socket.join(taskId);
    ack?.({ ok: true, taskId, onlineUsers: [] });
  });
  socket.on("send_message", (data, ack) => {
    const claims = socket.data.claims;
    const [first, ...rest] = (claims.name ?? "").split(" ");
    const now = new Date().toISOString();
    const message = {
      id: randomUUID().replaceAll("-", ""), task_id: data.taskId, user_id: claims.sub,
      first_name: first, last_name: rest.join(" "), avatar_url: null,
      message: String(data.message).trim(), attachments: [], reply_to: null,
      client_message_id: data.clientMessageId ?? null, created_at: now, updated_at: now,
      is_edited: false,
    };
    io.to(data.taskId).emit("new_message", { taskId: data.taskId, message });
    ack?.({ ok: true, message });
  });
});

httpServer.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port }));
});
process.on("SIGTERM", () => process.exit(0));
