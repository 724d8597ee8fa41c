#include "push/session.h"

#include <fmt/format.h>

#include "core/clock.h"
#include "core/log.h"
#include "push/fanout.h"
#include "push/shard.h"
#include "ws/close_code.h"

namespace ringcast::push {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The percent-decoded value of `key` in a query string ("a=1&token=x"); empty if absent.
std::string queryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != key || eq == std::string_view::npos) continue;
    std::string out;
    std::string_view v = pair.substr(eq + 1);
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '%' && i + 2 < v.size() + 0 && hexValue(v[i + 1]) >= 0 &&
          hexValue(v[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hexValue(v[i + 1]) * 16 + hexValue(v[i + 2])));
        i += 2;
      } else {
        out.push_back(v[i] == '+' ? ' ' : v[i]);
      }
    }
    return out;
  }
  return {};
}

Session& sessionOf(ws::WsConnection& conn) {
  return *static_cast<Session*>(conn.userData());
}

std::string connName(const ws::WsConnection& conn) {
  return fmt::format("c-{}-{}", conn.loop()->id(), conn.serial());
}

}  // namespace

int PushEndpoint::onUpgrade(ws::WsConnection& conn, const http::Request& request,
                            std::string* reason) {
  if (!fanout_->serving()) {
    *reason = "the gateway is shutting down";
    return 503;
  }
  Identity identity;
  if (!options_->jwtSecret.empty()) {
    std::string token = queryParam(request.query, "token");
    if (token.empty()) {
      *reason = "missing token";
      return 401;
    }
    AuthResult auth = verifyToken(token, options_->jwtSecret, wallMs() / 1000);
    if (!auth.ok) {
      *reason = auth.reason;
      return 401;
    }
    identity = std::move(auth.identity);
  } else {
    identity.user = queryParam(request.query, "user");
    if (identity.user.empty()) {
      identity.user = fmt::format("anon-{}", anonymous_.fetch_add(1) + 1);
    } else if (!isValidUserName(identity.user)) {
      *reason = "invalid user name";
      return 400;
    }
    std::string name = queryParam(request.query, "name");
    identity.name = name.empty() ? identity.user : name;
  }
  if (identity.name.empty()) identity.name = identity.user;
  conn.setUserData(new Session(&conn, std::move(identity)));
  return 0;
}

void PushEndpoint::onOpen(ws::WsConnection& conn) {
  Session& s = sessionOf(conn);
  Fanout::currentShard().addSession(&s);
  fanout_->userConnected(s.user());
  std::string json;
  frame::welcome(json, s.user(), connName(conn), fanout_->epoch());
  conn.sendText(json);
}

void PushEndpoint::onClose(ws::WsConnection& conn, uint16_t) {
  auto* s = static_cast<Session*>(conn.userData());
  if (s == nullptr) return;
  conn.setUserData(nullptr);
  while (!s->subs().empty()) dropSubscription(*s, std::string(s->subs().back().channel->name));
  Fanout::currentShard().removeSession(s);
  fanout_->userDisconnected(s->user());
  delete s;
}

void PushEndpoint::onMessage(ws::WsConnection& conn, ws::Opcode op, std::string_view payload) {
  Session& s = sessionOf(conn);
  if (op != ws::Opcode::kText) {
    replyError(s, {}, "bad_request", "commands are JSON text frames");
    return;
  }
  Command cmd;
  CommandError err;
  if (!parseCommand(payload, &cmd, &err)) {
    replyError(s, err.id, err.code, err.message);
    return;
  }
  handle(s, cmd);
}

void PushEndpoint::handle(Session& s, const Command& cmd) {
  switch (cmd.op) {
    case Op::kSubscribe:
      return subscribe(s, cmd);
    case Op::kUnsubscribe:
      return unsubscribe(s, cmd);
    case Op::kPublish:
      return publish(s, cmd);
    case Op::kSend:
      return sendDirect(s, cmd);
    case Op::kPresence:
      return presence(s, cmd);
    case Op::kPing: {
      std::string json;
      frame::pong(json, cmd.id);
      s.conn()->sendText(json);
      return;
    }
  }
}

void PushEndpoint::replyError(Session& s, std::string_view id, std::string_view code,
                              std::string_view message) {
  std::string json;
  frame::replyError(json, id, code, message);
  s.conn()->sendText(json);
}

void PushEndpoint::subscribe(Session& s, const Command& cmd) {
  const Identity& who = s.identity();
  if (who.hasSubs && !channelAllowed(cmd.channel, who.subs)) {
    return replyError(s, cmd.id, "forbidden", "not allowed to subscribe to this channel");
  }
  Shard& shard = Fanout::currentShard();
  const bool already = shard.isSubscribed(&s, cmd.channel);
  fanout_->channelTable().withChannel(cmd.channel, [&](Channel& ch) {
    const int64_t nowMs = wallMs();
    ch.trimHistory(fanout_->options().historySize, fanout_->options().historyTtlMs, nowMs);
    frame::ReplyOk reply;
    reply.id = cmd.id;
    reply.channel = cmd.channel;
    reply.hasOffset = true;
    reply.offset = ch.offset;
    reply.epoch = fanout_->epoch();
    bool recovered = false;
    if (cmd.hasSince) {
      const uint64_t from = cmd.since.offset;
      recovered =
          cmd.since.epoch == fanout_->epoch() && from <= ch.offset &&
          (from == ch.offset || (!ch.history.empty() && ch.history.front().offset <= from + 1));
      reply.recovered = recovered ? 1 : 0;
    }
    std::string json;
    frame::replyOk(json, reply);
    s.conn()->sendText(json);
    // Missed messages follow the reply, before any live one: live ones carry offsets above
    // ch.offset, which the subscription's minOffset lets through; these are at or below it.
    if (recovered) {
      for (const HistoryEntry& h : ch.history) {
        if (h.offset > cmd.since.offset) s.conn()->sendFrame(h.frame.share());
      }
    }
    if (already) return;
    shard.addSubscription(&s, cmd.channel, ch.offset, cmd.presence);
    ++ch.subscribers;
    PresenceUser& p = ch.presence[s.user()];
    if (p.conns++ == 0) {
      p.name = who.name;
      fanout_->pushPresenceLocked(ch, true, s.user());
    }
  });
}

bool PushEndpoint::dropSubscription(Session& s, const std::string& channel) {
  if (!Fanout::currentShard().removeSubscription(&s, channel)) return false;
  bool unused = false;
  fanout_->channelTable().withExisting(channel, [&](Channel& ch) {
    --ch.subscribers;
    auto it = ch.presence.find(s.user());
    if (it != ch.presence.end() && --it->second.conns == 0) {
      ch.presence.erase(it);
      fanout_->pushPresenceLocked(ch, false, s.user());
    }
    unused = ch.subscribers == 0 && ch.offset == 0;
  });
  if (unused) fanout_->channelTable().removeIfUnused(channel);
  return true;
}

void PushEndpoint::unsubscribe(Session& s, const Command& cmd) {
  if (!dropSubscription(s, cmd.channel)) {
    return replyError(s, cmd.id, "not_found", "not subscribed to this channel");
  }
  frame::ReplyOk reply;
  reply.id = cmd.id;
  reply.channel = cmd.channel;
  std::string json;
  frame::replyOk(json, reply);
  s.conn()->sendText(json);
}

void PushEndpoint::publish(Session& s, const Command& cmd) {
  const Identity& who = s.identity();
  // Dev mode lets everyone publish; with tokens only `pubs` grants it.
  if (!options_->jwtSecret.empty() && !(who.hasPubs && channelAllowed(cmd.channel, who.pubs))) {
    return replyError(s, cmd.id, "forbidden", "not allowed to publish to this channel");
  }
  uint64_t offset = 0;
  if (!fanout_->publishWithOffset(cmd.channel, cmd.data, s.user(), nullptr, &offset)) {
    return replyError(s, cmd.id, "overloaded", "the gateway is overloaded; try again later");
  }
  frame::ReplyOk reply;
  reply.id = cmd.id;
  reply.channel = cmd.channel;
  reply.hasOffset = true;
  reply.offset = offset;
  std::string json;
  frame::replyOk(json, reply);
  s.conn()->sendText(json);
}

void PushEndpoint::sendDirect(Session& s, const Command& cmd) {
  if (!s.identity().canSend) {
    return replyError(s, cmd.id, "forbidden", "not allowed to send direct messages");
  }
  for (const std::string& to : cmd.to) fanout_->send(to, cmd.data, s.user(), nullptr);
  frame::ReplyOk reply;
  reply.id = cmd.id;
  std::string json;
  frame::replyOk(json, reply);
  s.conn()->sendText(json);
}

void PushEndpoint::presence(Session& s, const Command& cmd) {
  const Identity& who = s.identity();
  if (who.hasSubs && !channelAllowed(cmd.channel, who.subs)) {
    return replyError(s, cmd.id, "forbidden", "not allowed to see this channel");
  }
  std::vector<PresenceEntry> entries = fanout_->presence(cmd.channel);
  std::vector<frame::PresenceEntry> views;
  views.reserve(entries.size());
  for (const PresenceEntry& e : entries) views.push_back({e.user, e.name, e.conns});
  std::string json;
  frame::presence(json, cmd.id, cmd.channel, views);
  s.conn()->sendText(json);
}

}  // namespace ringcast::push
