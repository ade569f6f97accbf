"""The stateful phase's model of the protocol, without a network: what it predicts is what the
contract says, and where the contract leaves a choice it allows each answer."""

from __future__ import annotations

from typing import Any

from taskchat.conformance.stateful.model import NULLISH, ChatModel, Outcome, UserInfo
from taskchat.schemas import ErrorCode, Event

USERS = [UserInfo("ana", "u-ana", "Ana Owner", "https://example.com/a.png"),
         UserInfo("ben", "u-ben", "Ben Member"), UserInfo("vi", "u-vi", "Vi")]


def _model() -> ChatModel:
    m = ChatModel(USERS, {"T0": {"ana": "owner", "ben": "member", "vi": "viewer"},
                          "T1": {"ana": "admin", "ben": "member"}},
                  {"ana#1": "ana", "ben#1": "ben", "ben#2": "ben", "vi#1": "vi"})
    for s in m.sockets.values():
        s.connected = True
    return m


def _do(outcomes: list[Outcome], ack: Any = None) -> Outcome:
    chosen = next(o for o in outcomes if o.accepts(ack))
    if chosen.apply is not None:
        chosen.apply(ack)
    return chosen


def _events(o: Outcome) -> list[tuple[str, str]]:
    return [(e.socket, e.event) for e in o.events]


def _join_all(m: ChatModel, task: str = "T0") -> None:
    for label in ("ana#1", "ben#1", "ben#2", "vi#1"):
        if m.sockets[label].user in m.tasks[task]:
            _do(m.predict_join(label, task), {"ok": True})


def test_presence_is_per_user_not_per_socket() -> None:
    m = _model()
    _do(m.predict_join("ana#1", "T0"), {"ok": True})
    first = _do(m.predict_join("ben#1", "T0"), {"ok": True})
    assert _events(first) == [("ana#1", Event.USER_JOINED)]
    second_tab = _do(m.predict_join("ben#2", "T0"), {"ok": True})
    assert _events(second_tab) == []  # a second tab is not a second arrival
    assert not _do(m.predict_leave("ben#1", "T0"), {"ok": True}).events
    last = _do(m.predict_leave("ben#2", "T0"), {"ok": True})
    assert _events(last) == [("ana#1", Event.USER_LEFT)]


def test_join_ack_lists_exactly_the_users_in_the_room() -> None:
    m = _model()
    _join_all(m)
    outcome = m.predict_join("ben#1", "T0")[0]  # joining twice: a no-op, the same list
    assert outcome.ack_check is not None
    online: list[dict[str, Any]] = [{"userId": u, "userName": n} for u, n in
                                     (("u-ana", "Ana Owner"), ("u-ben", "Ben Member"),
                                      ("u-vi", "Vi"))]
    good = {"ok": True, "taskId": "T0", "onlineUsers": online}
    assert outcome.ack_check(good) == []
    ghost = {**good, "onlineUsers": [*online, {"userId": "u-gone", "userName": "x"}]}
    assert [r for r, _ in outcome.ack_check(ghost)] == ["STATE-2"]
    twice = {**good, "onlineUsers": [*online, online[1]]}
    assert [r for r, _ in outcome.ack_check(twice)] == ["PRES-3"]


def test_precedence_of_refusals() -> None:
    m = _model()
    assert m.predict_send("ana#1", "T?", "hi", None, None)[0].code == ErrorCode.TASK_NOT_FOUND
    assert m.predict_send("vi#1", "T1", "hi", None, None)[0].code == ErrorCode.FORBIDDEN
    assert m.predict_send("vi#1", "T0", "hi", None, None)[0].code == ErrorCode.NOT_JOINED
    assert m.predict_send("ana#1", "T0", "   ", None, None)[0].code == ErrorCode.INVALID_PAYLOAD
    _join_all(m)
    refused = m.predict_send("vi#1", "T0", "hi", None, None)
    assert [(o.code, o.req) for o in refused] == [(ErrorCode.FORBIDDEN, "PERM-6")]
    assert _events(refused[0]) == [("vi#1", Event.ERROR)]


def test_send_by_a_typing_user_stops_typing_first_and_may_be_rate_limited() -> None:
    m = _model()
    _join_all(m)
    _do(m.predict_typing_start("ben#1", "T0", 0.0, 5.0, 5.0), {"ok": True})
    outcomes = m.predict_send("ben#1", "T0", "  hi  ", "c1", None)
    assert [o.label for o in outcomes] == ["sent", "rate limited"]
    sent = outcomes[0]
    others = [(s, e) for s, e in _events(sent) if e == Event.USER_STOPPED_TYPING]
    assert sorted(s for s, _ in others) == ["ana#1", "ben#2", "vi#1"]  # the other tab too
    for sock in ("ana#1", "ben#2", "vi#1"):
        order = [e for s, e in _events(sent) if s == sock]
        assert order == [Event.USER_STOPPED_TYPING, Event.NEW_MESSAGE]
    body = dict(sent.ack)
    assert body["message.message"] == "hi" and body["message.first_name"] == "Ben"
    assert body["message.reply_to"] is NULLISH
    _do(outcomes, {"ok": True, "message": {"id": "m1"}})
    assert ("T0", "ben") not in m.typing


def test_retry_answers_the_original_and_broadcasts_nothing() -> None:
    m = _model()
    _join_all(m)
    _do(m.predict_send("ben#1", "T0", "hi", "c1", None), {"ok": True, "message": {"id": "m1"}})
    retry = m.predict_send("ben#2", "T0", "other text", "c1", None)  # another tab: same user
    assert len(retry) == 1 and retry[0].events == [] and dict(retry[0].ack) == {"message.id": "m1"}
    other_user = m.predict_send("ana#1", "T0", "hi", "c1", None)[0]  # a new message for ana
    assert other_user.label == "sent"


def test_removal_tells_the_room_then_evicts_every_tab() -> None:
    m = _model()
    _join_all(m)
    _do(m.predict_typing_start("ben#2", "T0", 0.0, 5.0, 5.0), {"ok": True})
    removed = _do(m.predict_remove_member("T0", "ben"))
    ana = [e for s, e in _events(removed) if s == "ana#1"]
    assert ana == [Event.MEMBER_CHANGED, Event.USER_STOPPED_TYPING, Event.USER_LEFT]
    ben = [e for s, e in _events(removed) if s.startswith("ben")]
    assert ben == [Event.MEMBER_CHANGED, Event.MEMBER_CHANGED]  # and nothing after
    assert m.room("T0") == ["ana#1", "vi#1"]
    assert m.predict_send("ben#1", "T0", "hi", None, None)[0].code == ErrorCode.FORBIDDEN


def test_where_the_contract_is_silent_every_answer_passes() -> None:
    m = _model()
    _join_all(m)
    # a non-member leaving: FORBIDDEN (D8) or a no-op success
    assert [o.ok for o in m.predict_leave("vi#1", "T1")] == [False, True]
    # a tab leaving while the other stays may end the user's typing or not
    _do(m.predict_typing_start("ben#1", "T0", 0.0, 5.0, 5.0), {"ok": True})
    leave = m.predict_leave("ben#1", "T0")[0]
    assert leave.events == [] and [g.label for g in leave.groups] == ["a tab left: typing may end"]
    # someone else's deleted message: MESSAGE_NOT_FOUND or FORBIDDEN
    _do(m.predict_send("ana#1", "T0", "hi", None, None), {"ok": True, "message": {"id": "m1"}})
    _do(m.predict_delete("ana#1", "T0", m.messages[0]), {"ok": True})
    codes = [o.code for o in m.predict_edit("ben#2", "T0", m.messages[0], "x")]
    assert codes == [ErrorCode.MESSAGE_NOT_FOUND, ErrorCode.FORBIDDEN]


def test_history_expects_newest_first_with_tombstones() -> None:
    m = _model()
    _join_all(m)
    for i in range(2):
        _do(m.predict_send("ana#1", "T0", f"t{i}", None, None),
            {"ok": True, "message": {"id": f"m{i}"}})
    _do(m.predict_delete("ana#1", "T0", m.messages[0]), {"ok": True})
    messages: list[dict[str, Any]] = [
        {"id": "m1", "message": "t1"}, {"id": "m0", "message": "", "is_deleted": True}]
    page = {"taskId": "T0", "hasMore": False, "messages": messages}
    assert m.history_complaints("T0", page) == []
    wrong = {**page, "messages": list(reversed(messages))}
    assert [r for r, _ in m.history_complaints("T0", wrong)] == ["STORE-2"]
    kept = {**page, "messages": [messages[0], {"id": "m0", "message": "t0"}]}
    assert [r for r, _ in m.history_complaints("T0", kept)] == ["STORE-3"]


def test_an_unseen_disconnect_may_not_be_processed_when_the_next_join_arrives() -> None:
    """Nothing orders one connection's close before another connection's join: a user whose
    last socket closed with nobody in the room may still be listed by the next join (found by
    the phase against the reference server); listed, the joiner must then get user_left."""
    ana = {"userId": "u-ana", "userName": "Ana Owner"}
    ben = {"userId": "u-ben", "userName": "Ben Member"}
    for listed, late in (([ana], []), ([ben, ana], [("ana#1", Event.USER_LEFT)])):
        m = _model()
        _do(m.predict_join("ben#1", "T0"), {"ok": True})
        _do(m.predict_disconnect("ben#1"))  # nobody in the room sees it
        join = m.predict_join("ana#1", "T0")[0]
        assert join.ack_check is not None
        assert join.ack_check({"ok": True, "taskId": "T0", "onlineUsers": listed}) == []
        assert _events(join) == late
        _do([join], {"ok": True})
        # the join showed the room as the server has it: from now on a ghost is a ghost
        again = m.predict_join("ben#2", "T0")[0]
        assert again.ack_check is not None
        ghost = {"ok": True, "taskId": "T0", "onlineUsers": [ana, ben, {"userId": "u-vi"}]}
        assert "STATE-2" in [r for r, _ in again.ack_check(ghost)]


def test_a_ghost_after_a_disconnect_someone_saw_is_still_a_divergence() -> None:
    m = _model()
    _do(m.predict_join("ana#1", "T0"), {"ok": True})
    _do(m.predict_join("ben#1", "T0"), {"ok": True})
    _do(m.predict_disconnect("ben#1"))  # ana saw user_left: the server processed it
    join = m.predict_join("vi#1", "T0")[0]
    assert join.ack_check is not None
    listed = [{"userId": u, "userName": n} for u, n in
              (("u-ana", "Ana Owner"), ("u-ben", "Ben Member"), ("u-vi", "Vi"))]
    assert [r for r, _ in join.ack_check({"ok": True, "taskId": "T0", "onlineUsers": listed})] \
        == ["STATE-2"]
