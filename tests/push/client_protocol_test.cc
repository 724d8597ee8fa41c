#include "push/client_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/json.h"

namespace ringcast::push {
namespace {

Command parseOk(std::string_view text) {
  Command cmd;
  CommandError err;
  EXPECT_TRUE(parseCommand(text, &cmd, &err)) << text << " -> " << err.code << ": " << err.message;
  return cmd;
}

CommandError parseError(std::string_view text) {
  Command cmd;
  CommandError err;
  EXPECT_FALSE(parseCommand(text, &cmd, &err)) << text;
  return err;
}

// ---- names ----

TEST(ClientProtocolNames, ChannelAndUserRules) {
  for (std::string_view ok : {"news", "room:7", "a", "A-Z_0.9@x/y=z+w#v", "user@example.com"}) {
    EXPECT_TRUE(isValidChannelName(ok)) << ok;
    EXPECT_TRUE(isValidUserName(ok)) << ok;
  }
  EXPECT_TRUE(isValidChannelName(std::string(128, 'c')));
  EXPECT_FALSE(isValidChannelName(std::string(129, 'c')));
  for (std::string_view bad : {"", "a b", "room*", "caf\xc3\xa9", "x\"", "tab\t", "q?", "a,b"}) {
    EXPECT_FALSE(isValidChannelName(bad)) << bad;
    EXPECT_FALSE(isValidUserName(bad)) << bad;
  }
}

// ---- every op ----

TEST(ClientProtocolParse, Subscribe) {
  Command c = parseOk(R"({"op":"subscribe","channel":"news","id":1})");
  EXPECT_EQ(c.op, Op::kSubscribe);
  EXPECT_EQ(c.channel, "news");
  EXPECT_EQ(c.id, "1");
  EXPECT_FALSE(c.presence);
  EXPECT_FALSE(c.hasSince);
}

TEST(ClientProtocolParse, SubscribeWithPresenceAndSince) {
  Command c = parseOk(
      R"({"op":"subscribe","channel":"room:7","presence":true,"since":{"offset":41,"epoch":"e1"}})");
  EXPECT_EQ(c.channel, "room:7");
  EXPECT_TRUE(c.presence);
  ASSERT_TRUE(c.hasSince);
  EXPECT_EQ(c.since.offset, 41u);
  EXPECT_EQ(c.since.epoch, "e1");
  EXPECT_TRUE(c.id.empty());

  c = parseOk(R"({"op":"subscribe","channel":"x","since":{"offset":18446744073709551615}})");
  ASSERT_TRUE(c.hasSince);
  EXPECT_EQ(c.since.offset, 18446744073709551615u);
  EXPECT_TRUE(c.since.epoch.empty());
}

TEST(ClientProtocolParse, UnsubscribePresencePing) {
  Command c = parseOk(R"({"op":"unsubscribe","channel":"news"})");
  EXPECT_EQ(c.op, Op::kUnsubscribe);
  EXPECT_EQ(c.channel, "news");
  c = parseOk(R"({"op":"presence","channel":"room:7","id":3})");
  EXPECT_EQ(c.op, Op::kPresence);
  EXPECT_EQ(c.channel, "room:7");
  EXPECT_EQ(c.id, "3");
  c = parseOk(R"({"op":"ping"})");
  EXPECT_EQ(c.op, Op::kPing);
  EXPECT_TRUE(c.id.empty());
}

TEST(ClientProtocolParse, Publish) {
  Command c = parseOk(R"({"op":"publish","channel":"room:7","data":{"text":"hi"}})");
  EXPECT_EQ(c.op, Op::kPublish);
  EXPECT_EQ(c.channel, "room:7");
  EXPECT_EQ(c.data, R"({"text":"hi"})");
}

TEST(ClientProtocolParse, SendToOneOrMany) {
  Command c = parseOk(R"({"op":"send","to":"bob","data":{"text":"psst"}})");
  EXPECT_EQ(c.op, Op::kSend);
  EXPECT_EQ(c.to, std::vector<std::string>{"bob"});
  EXPECT_EQ(c.data, R"({"text":"psst"})");
  c = parseOk(R"({"op":"send","to":["bob","carol","bob"],"data":1})");
  // A repeated name counts once (the first place it appears): each user gets one frame.
  EXPECT_EQ(c.to, (std::vector<std::string>{"bob", "carol"}));
  EXPECT_EQ(c.data, "1");
}

TEST(ClientProtocolParse, RefreshCarriesTheTokenAsSent) {
  Command c = parseOk(R"({"op":"refresh","id":7,"token":"aGVhZA.cGF5bG9hZA.c2ln"})");
  EXPECT_EQ(c.op, Op::kRefresh);
  EXPECT_EQ(c.id, "7");
  EXPECT_EQ(c.token, "aGVhZA.cGF5bG9hZA.c2ln");
  // Not verified here: any string of the right size is the caller's to check.
  EXPECT_EQ(parseOk(R"({"op":"refresh","token":"x"})").token, "x");
  const std::string longest(kMaxTokenBytes, 't');
  EXPECT_EQ(parseOk(R"({"op":"refresh","token":")" + longest + "\"}").token, longest);
  // Other ops ignore a token member.
  EXPECT_TRUE(parseOk(R"({"op":"ping","token":5})").token.empty());
}

TEST(ClientProtocolErrors, RefreshNeedsAToken) {
  const std::string kShape = "token must be a string of 1 to 8192 bytes";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"op":"refresh","id":1})", "missing token"},
      {R"({"op":"refresh","id":1,"token":""})", kShape},
      {R"({"op":"refresh","id":1,"token":7})", kShape},
      {R"({"op":"refresh","id":1,"token":["a.b.c"]})", kShape},
      {R"({"op":"refresh","id":1,"token":null})", kShape},
      {R"({"op":"refresh","id":1,"token":")" + std::string(kMaxTokenBytes + 1, 't') + "\"}",
       kShape},
      {R"({"op":"refresh","id":1,"token":"a","token":"b"})", "duplicate member \"token\""},
  };
  for (const auto& [text, message] : cases) {
    CommandError e = parseError(text);
    EXPECT_EQ(e.code, "bad_request") << text;
    EXPECT_EQ(e.message, message) << text;
    if (message.rfind("duplicate", 0) != 0) {
      EXPECT_EQ(e.id, "1") << text;
    }
  }
}

TEST(ClientProtocolParse, IgnoresUnknownMembersAndMembersTheOpDoesNotUse) {
  Command c = parseOk(
      R"({"extra":{"deep":[1,2]},"op":"ping","channel":"bad name","data":1,"presence":"x"})");
  EXPECT_EQ(c.op, Op::kPing);
  c = parseOk(R"({"op":"unsubscribe","channel":"n","since":"whatever","to":5})");
  EXPECT_EQ(c.channel, "n");
}

// ---- data byte for byte ----

TEST(ClientProtocolParse, DataIsCarriedByteForByte) {
  const std::vector<std::string> values = {
      "{ \"text\" :  \"hi\" ,\n\t\"n\" : [ 1 , 2 ] }",
      R"("\u00e9\u0000\ud83d\ude00\"\\\/")",
      "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
      "12345678901234567890123",
      "-0.000e-0",
      "1.0E+2",
      "1e400",
      R"({"a":{"b":{"c":[{"d":null},true,false,[[[]]],{}]}},"big":99999999999999999999})",
      "null",
      "[]",
  };
  for (const std::string& v : values) {
    const std::string text = "{\"op\":\"publish\",\"channel\":\"c\",\"data\":" + v + "}";
    EXPECT_EQ(parseOk(text).data, v) << text;
    const std::string spaced = "{ \"data\" :\n  " + v + "  \r\n, \"op\":\"send\",\"to\":\"bob\"}";
    EXPECT_EQ(parseOk(spaced).data, v) << spaced;
  }
}

TEST(ClientProtocolParse, DataKeyMayBeEscaped) {
  Command c = parseOk(R"({"op":"publish","channel":"c","d\u0061ta":[1, 2]})");
  EXPECT_EQ(c.data, "[1, 2]");
}

// ---- id echo ----

TEST(ClientProtocolParse, IdIsKeptAsSent) {
  EXPECT_EQ(parseOk(R"({"op":"ping","id":7})").id, "7");
  EXPECT_EQ(parseOk(R"({"op":"ping","id":-1.5e3})").id, "-1.5e3");
  EXPECT_EQ(parseOk(R"({"op":"ping","id":12345678901234567890123})").id, "12345678901234567890123");
  EXPECT_EQ(parseOk(R"({"op":"ping","id":"abc"})").id, R"("abc")");
  EXPECT_EQ(parseOk(R"({"op":"ping","id":"\u0061\"b"})").id, R"("\u0061\"b")");
  EXPECT_EQ(parseOk(R"({"op":"ping","id":""})").id, R"("")");
  const std::string longest = "\"" + std::string(128, 'i') + "\"";
  EXPECT_EQ(parseOk(R"({"op":"ping","id":)" + longest + "}").id, longest);
}

TEST(ClientProtocolParse, ErrorsAfterAValidIdEchoIt) {
  CommandError e = parseError(R"({"op":"subscribe","id":"req-9"})");
  EXPECT_EQ(e.code, "bad_request");
  EXPECT_EQ(e.id, R"("req-9")");
  e = parseError(R"({"id":42,"op":"fly"})");
  EXPECT_EQ(e.code, "unknown_op");
  EXPECT_EQ(e.id, "42");
}

// ---- every error code ----

TEST(ClientProtocolErrors, BadJsonHasNoId) {
  for (std::string_view bad : {"", "{", "{\"op\":\"ping\",\"id\":1", "{\"op\":\"ping\"} x",
                               "{'op':'ping'}", "{\"op\":\"ping\",\"id\":01}", "\xff"}) {
    CommandError e = parseError(bad);
    EXPECT_EQ(e.code, "bad_json") << bad;
    EXPECT_TRUE(e.id.empty()) << bad;
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(ClientProtocolErrors, BadRequest) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([1,2])", "command must be a JSON object"},
      {R"("ping")", "command must be a JSON object"},
      {R"({"op":"ping","op":"ping"})", "duplicate member \"op\""},
      {R"({"op":"publish","channel":"c","data":1,"data":2})", "duplicate member \"data\""},
      {R"({"op":"ping","id":null})", "id must be a number or a string of at most 128 bytes"},
      {R"({"op":"ping","id":[1]})", "id must be a number or a string of at most 128 bytes"},
      {R"({"op":"ping","id":true})", "id must be a number or a string of at most 128 bytes"},
      {R"({"op":"ping","id":")" + std::string(129, 'i') + "\"}",
       "id must be a number or a string of at most 128 bytes"},
      {R"({"op":"ping","id":)" + std::string(129, '9') + "}",
       "id must be a number or a string of at most 128 bytes"},
      {R"({"id":1})", "missing op"},
      {R"({"op":1})", "op must be a string"},
      {R"({"op":"subscribe"})", "missing channel"},
      {R"({"op":"subscribe","channel":7})", "channel must be a string"},
      {R"({"op":"subscribe","channel":"a b"})", "invalid channel name"},
      {R"({"op":"subscribe","channel":""})", "invalid channel name"},
      {R"({"op":"unsubscribe","channel":")" + std::string(129, 'c') + "\"}",
       "invalid channel name"},
      {R"({"op":"presence"})", "missing channel"},
      {R"({"op":"subscribe","channel":"c","presence":1})", "presence must be a boolean"},
      {R"({"op":"subscribe","channel":"c","since":5})", "since must be an object"},
      {R"({"op":"subscribe","channel":"c","since":{}})",
       "since.offset must be an unsigned integer"},
      {R"({"op":"subscribe","channel":"c","since":{"offset":-1}})",
       "since.offset must be an unsigned integer"},
      {R"({"op":"subscribe","channel":"c","since":{"offset":1.5}})",
       "since.offset must be an unsigned integer"},
      {R"({"op":"subscribe","channel":"c","since":{"offset":"4"}})",
       "since.offset must be an unsigned integer"},
      {R"({"op":"subscribe","channel":"c","since":{"offset":18446744073709551616}})",
       "since.offset must be an unsigned integer"},
      {R"({"op":"subscribe","channel":"c","since":{"offset":1,"epoch":2}})",
       "since.epoch must be a string of at most 128 bytes"},
      {R"({"op":"publish","channel":"c"})", "missing data"},
      {R"({"op":"publish","data":1})", "missing channel"},
      {R"({"op":"send","data":1})", "missing to"},
      {R"({"op":"send","to":"bob"})", "missing data"},
      {R"({"op":"send","to":5,"data":1})", "to must be a user name or a list of user names"},
      {R"({"op":"send","to":["bob",5],"data":1})",
       "to must be a user name or a list of user names"},
      {R"({"op":"send","to":[],"data":1})", "to must not be empty"},
      {R"({"op":"send","to":"b b","data":1})", "invalid user name in to"},
      {R"({"op":"send","to":["ok","b b"],"data":1})", "invalid user name in to"},
  };
  for (const auto& [text, message] : cases) {
    CommandError e = parseError(text);
    EXPECT_EQ(e.code, "bad_request") << text;
    EXPECT_EQ(e.message, message) << text;
  }
}

TEST(ClientProtocolErrors, UnknownOp) {
  for (std::string_view text : {R"({"op":"fly"})", R"({"op":""})", R"({"op":"PING"})"}) {
    CommandError e = parseError(text);
    EXPECT_EQ(e.code, "unknown_op") << text;
    EXPECT_EQ(e.message, "unknown op");
  }
}

TEST(ClientProtocolErrors, TooManyRecipients) {
  auto sendTo = [](size_t n) {
    std::string text = R"({"op":"send","id":"s","data":1,"to":[)";
    for (size_t i = 0; i < n; ++i) text += (i ? ",\"u" : "\"u") + std::to_string(i) + "\"";
    return text + "]}";
  };
  EXPECT_EQ(parseOk(sendTo(kMaxRecipients)).to.size(), kMaxRecipients);
  CommandError e = parseError(sendTo(kMaxRecipients + 1));
  EXPECT_EQ(e.code, "too_large");
  EXPECT_EQ(e.id, R"("s")");
}

TEST(ClientProtocolErrors, ReusedOutputsAreReset) {
  Command c;
  CommandError e;
  ASSERT_FALSE(parseCommand(R"({"op":"x","id":1})", &c, &e));
  ASSERT_TRUE(parseCommand(R"({"op":"send","to":"a","data":2})", &c, &e));
  ASSERT_TRUE(parseCommand(R"({"op":"ping"})", &c, &e));
  EXPECT_TRUE(c.to.empty());
  EXPECT_TRUE(c.data.empty());
  ASSERT_FALSE(parseCommand("{", &c, &e));
  EXPECT_TRUE(e.id.empty());
}

// ---- frame builders ----

TEST(ClientProtocolFrames, Welcome) {
  std::string out;
  frame::welcome(out, "alice", "c-42", "e1");
  EXPECT_EQ(out, R"({"type":"welcome","user":"alice","conn":"c-42","epoch":"e1"})");
}

TEST(ClientProtocolFrames, ReplyOkWithAndWithoutOptionalFields) {
  std::string out;
  frame::ReplyOk r;
  frame::replyOk(out, r);
  EXPECT_EQ(out, R"({"type":"reply","ok":true})");

  out.clear();
  r.id = "1";
  r.channel = "news";
  r.hasOffset = true;
  r.offset = 41;
  r.epoch = "e1";
  frame::replyOk(out, r);
  EXPECT_EQ(out, R"({"type":"reply","id":1,"ok":true,"channel":"news","offset":41,"epoch":"e1"})");

  out.clear();
  r.id = R"("a")";
  r.offset = 0;
  r.recovered = 1;
  frame::replyOk(out, r);
  EXPECT_EQ(
      out,
      R"({"type":"reply","id":"a","ok":true,"channel":"news","offset":0,"epoch":"e1","recovered":true})");

  out.clear();
  r.recovered = 0;
  r.channel = {};
  r.epoch = {};
  frame::replyOk(out, r);
  EXPECT_EQ(out, R"({"type":"reply","id":"a","ok":true,"offset":0,"recovered":false})");
}

TEST(ClientProtocolFrames, ReplyError) {
  std::string out;
  frame::replyError(out, "2", "forbidden", "not allowed \"here\"");
  EXPECT_EQ(
      out,
      R"({"type":"reply","id":2,"ok":false,"error":{"code":"forbidden","message":"not allowed \"here\""}})");
  out.clear();
  frame::replyError(out, {}, "bad_json", "invalid JSON");
  EXPECT_EQ(out,
            R"({"type":"reply","ok":false,"error":{"code":"bad_json","message":"invalid JSON"}})");
}

TEST(ClientProtocolFrames, MessageDirectNotice) {
  std::string out;
  frame::message(out, "news", 42, "api", 1763769600000, R"({"text": "hi"})");
  EXPECT_EQ(
      out,
      R"({"type":"message","channel":"news","offset":42,"from":"api","ts":1763769600000,"data":{"text": "hi"}})");
  out.clear();
  frame::direct(out, "alice", "bob", 5, "12345678901234567890123");
  EXPECT_EQ(out,
            R"({"type":"direct","from":"alice","to":"bob","ts":5,"data":12345678901234567890123})");
  out.clear();
  frame::notice(out, -1, R"("maintenance")");
  EXPECT_EQ(out, R"({"type":"notice","ts":-1,"data":"maintenance"})");
}

TEST(ClientProtocolFrames, HotFramesAppend) {
  std::string out = "prefix|";
  frame::message(out, "c", 18446744073709551615u, "u", 0, "null");
  EXPECT_EQ(
      out,
      R"(prefix|{"type":"message","channel":"c","offset":18446744073709551615,"from":"u","ts":0,"data":null})");
}

TEST(ClientProtocolFrames, JoinLeavePresencePongDropped) {
  std::string out;
  frame::join(out, "room:7", "carol");
  EXPECT_EQ(out, R"({"type":"join","channel":"room:7","user":"carol"})");
  out.clear();
  frame::leave(out, "room:7", "carol");
  EXPECT_EQ(out, R"({"type":"leave","channel":"room:7","user":"carol"})");

  out.clear();
  const frame::PresenceEntry entries[] = {{"alice", "Alice", 2}, {"bob", "", 1}};
  frame::presence(out, "3", "room:7", 2, entries);
  EXPECT_EQ(
      out,
      R"({"type":"presence","id":3,"channel":"room:7","total":2,"users":[{"user":"alice","name":"Alice","conns":2},{"user":"bob","name":"","conns":1}]})");
  out.clear();
  frame::presence(out, {}, "empty", 0, {});
  EXPECT_EQ(out, R"({"type":"presence","channel":"empty","total":0,"users":[]})");
  out.clear();
  // A cut list: total counts every user, users lists those given.
  frame::presence(out, {}, "big", 5000, {entries, 1});
  EXPECT_EQ(
      out,
      R"({"type":"presence","channel":"big","total":5000,"users":[{"user":"alice","name":"Alice","conns":2}]})");

  out.clear();
  frame::pong(out, {});
  EXPECT_EQ(out, R"({"type":"pong"})");
  out.clear();
  frame::pong(out, R"("p1")");
  EXPECT_EQ(out, R"({"type":"pong","id":"p1"})");
  out.clear();
  frame::dropped(out, 17);
  EXPECT_EQ(out, R"({"type":"dropped","count":17})");
}

TEST(ClientProtocolFrames, StringsAreEscaped) {
  std::string out;
  frame::presence(out, {}, "c", 1, std::vector<frame::PresenceEntry>{{"u", "A \"q\"\n", 1}});
  EXPECT_EQ(
      out,
      R"({"type":"presence","channel":"c","total":1,"users":[{"user":"u","name":"A \"q\"\u000a","conns":1}]})");
  EXPECT_TRUE(json::isValidJson(out));
}

// A command's id and data go back out through the builders and give valid JSON.
TEST(ClientProtocolFrames, ParsedPiecesRoundTrip) {
  Command c =
      parseOk(R"({"id":"x\"y","op":"publish","channel":"c","data":{"n":12345678901234567890123}})");
  std::string out;
  frame::message(out, c.channel, 1, "alice", 2, c.data);
  EXPECT_TRUE(json::isValidJson(out));
  out.clear();
  frame::replyError(out, c.id, "forbidden", "no");
  EXPECT_EQ(
      out,
      R"({"type":"reply","id":"x\"y","ok":false,"error":{"code":"forbidden","message":"no"}})");
}

}  // namespace
}  // namespace ringcast::push
