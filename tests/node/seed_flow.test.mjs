// The seed's client flow with the official socket.io-client 4.x against a running reference
// server. The pytest wrapper (tests/reference_server/test_node_client.py) starts the server,
// creates the task and passes the URL, task id and tokens in TASKCHAT_NODE_ENV.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const env = JSON.parse(process.env.TASKCHAT_NODE_ENV ?? "{}");
const TIMEOUT = 5000;

function connect(token, transports = ["websocket", "polling"]) {
  const socket = io(env.url, { auth: { token }, transports, reconnection: false, forceNew: true });
  const seen = [];
  const waiters = [];
  socket.onAny((event, data) => {
    const i = waiters.findIndex((w) => w.event === event);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(data);
    else seen.push([event, data]);
  });
  socket.next = (event) => {
    const i = seen.findIndex(([e]) => e === event);
    if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0][1]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${event} within ${TIMEOUT} ms`)), TIMEOUT);
      waiters.push({ event, resolve: (d) => { clearTimeout(timer); resolve(d); } });
    });
  };
  socket.call = (event, data) => socket.timeout(TIMEOUT).emitWithAck(event, data);
  return socket;
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
}

test("the seed's flow: join, send, edit, delete, typing, presence of two users", async () => {
  const ann = connect(env.tokens.owner);
  const bob = connect(env.tokens.member, ["polling", "websocket"]);
  try {
    await Promise.all([connected(ann), connected(bob)]);
    const task = env.taskId;
    let ack = await ann.call("join_task", task);
    assert.equal(ack.ok, true);
    assert.deepEqual(ack.onlineUsers.map((u) => u.userId), ["node-owner"]);
    ack = await bob.call("join_task", task);
    assert.equal(ack.onlineUsers.length, 2);
    assert.equal((await ann.next("user_joined")).userId, "node-member");

    assert.deepEqual(await bob.call("typing_start", { taskId: task }), { ok: true });
    assert.equal((await ann.next("user_typing")).userName, "Node Member");
    assert.deepEqual(await bob.call("typing_stop", { taskId: task }), { ok: true });
    assert.deepEqual(await ann.next("user_stopped_typing"), { taskId: task, userId: "node-member" });

    const sent = await bob.call("send_message", { taskId: task, message: "Hello world!", attachments: [], replyTo: null });
    assert.equal(sent.ok, true);
    const got = await ann.next("new_message");
    assert.deepEqual(got, { taskId: task, message: sent.message });
    assert.equal(got.message.first_name, "Node");
    const id = sent.message.id;

    const edited = await bob.call("edit_message", { taskId: task, messageId: id, newMessage: "Updated message" });
    assert.equal(edited.message.is_edited, true);
    assert.equal((await ann.next("message_edited")).message.message, "Updated message");

    assert.deepEqual(await ann.call("delete_message", { taskId: task, messageId: id }), { ok: true, messageId: id });
    assert.deepEqual(await bob.next("message_deleted"), { taskId: task, messageId: id });

    const refused = await bob.call("edit_message", { taskId: task, messageId: id, newMessage: "x" });
    assert.equal(refused.ok, false);
    assert.equal((await bob.next("error")).code, "MESSAGE_NOT_FOUND");

    bob.disconnect();
    assert.equal((await ann.next("user_left")).userId, "node-member");
  } finally {
    ann.disconnect();
    bob.disconnect();
  }
});

test("a bad token: connect_error with err.message and err.data.code", async () => {
  for (const [token, code] of [["not-a-jwt", "AUTH_INVALID"], [env.tokens.expired, "AUTH_EXPIRED"]]) {
    const socket = connect(token);
    try {
      const err = await connected(socket).then(
        () => assert.fail("a bad token was accepted"),
        (e) => e,
      );
      assert.ok(err.message.length > 0);
      assert.equal(err.data.code, code);
    } finally {
      socket.disconnect();
    }
  }
});
