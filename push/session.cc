#include "push/session.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/fixed_pool.h"
#include "core/log.h"
#include "net/url.h"
#include "push/engine.h"
#include "push/fanout.h"
#include "push/shard.h"
#include "ws/close_code.h"

namespace ringcast::push {
namespace {

Session& sessionOf(ws::WsConnection& conn) {
  return *static_cast<Session*>(conn.userData());
}

uint32_t clampExp(int64_t expSec) {
  return static_cast<uint32_t>(std::clamp<int64_t>(expSec, 0, UINT32_MAX));
}

std::string connName(const ws::WsConnection& conn) {
  return fmt::format("c-{}-{}", conn.loop()->id(), conn.serial());
}

}  // namespace

int PushEndpoint::onUpgrade(ws::WsConnection& conn, const http::Request& request,
                            std::string* reason) {
  if (!engine_->serving()) {
    *reason = "the gateway is shutting down";
    return 503;
  }
  if (engine_->memoryHigh()) {
    engine_->memoryGuard()->countRefused(MemoryGuard::Refused::kConnection);
    *reason = "the gateway is near its memory limit";
    return 503;
  }
  Identity identity;
  if (!options_->jwtSecret.empty()) {
    std::string token = net::queryParam(request.query, "token");
    if (token.empty()) {
      *reason = "missing token";
      return 401;
    }
    AuthResult auth =
        verifyToken(token, options_->jwtSecret, wallMs() / 1000, options_->tokenClaims);
    if (!auth.ok) {
      *reason = auth.reason;
      return 401;
    }
    identity = std::move(auth.identity);
  } else {
    identity.user = net::queryParam(request.query, "user");
    if (identity.user.empty()) {
      identity.user = fmt::format("anon-{}", anonymous_.fetch_add(1) + 1);
    } else if (!isClaimableUserName(identity.user)) {
      *reason = "invalid user name";
      return 400;
    }
    std::string name = net::queryParam(request.query, "name");
    if (!name.empty() && !isValidDisplayName(name)) {
      *reason = "invalid name";
      return 400;
    }
    identity.name = name.empty() ? identity.user : name;
  }
  if (identity.name.empty()) identity.name = identity.user;
  conn.setUserData(
      new Session(&conn, std::move(identity), options_->commandRate, conn.loop()->nowMs()));
  return 0;
}

// A session sits in every connection of /ws: keep it small (the limiter, the indexes, the
// drop-notice state, the user, one subscription in place).
static_assert(sizeof(Session) <= 120);

using SessionPool = FixedPool<sizeof(Session)>;

void* Session::operator new(size_t bytes) {
  return SessionPool::allocateFor(bytes);
}

void Session::operator delete(void* p) noexcept {
  SessionPool::release(p);
}

Session::Session(ws::WsConnection* conn, Identity identity, const CommandRate& rate, int64_t nowMs)
    : limiter(rate, nowMs),
      expSec_(clampExp(identity.expSec)),
      conn_(conn),
      user_(std::move(identity.user)),
      oneSub_{},
      canSend_(identity.canSend) {
  std::string name = identity.name == user_ ? std::string() : std::move(identity.name);
  setGrants(std::move(name), std::move(identity));
}

Session::~Session() {
  if (subCapacityLog2_ > 0) delete[] manySubs_;
}

void Session::setGrants(std::string name, Identity identity) {
  if (name.empty() && !identity.hasSubs && !identity.hasPubs) {
    grants_.reset();
    return;
  }
  if (grants_ == nullptr) grants_ = std::make_unique<Grants>();
  grants_->name = std::move(name);
  grants_->hasSubs = identity.hasSubs;
  grants_->subs = std::move(identity.subs);
  grants_->hasPubs = identity.hasPubs;
  grants_->pubs = std::move(identity.pubs);
}

void Session::replaceGrants(const Identity& fresh) {
  setGrants(grants_ != nullptr ? std::move(grants_->name) : std::string(), fresh);
  canSend_ = fresh.canSend;
  expSec_ = clampExp(fresh.expSec);
}

uint32_t Session::position(const LocalChannel* channel) const {
  if (index_ != nullptr) {
    auto it = index_->find(channel);
    return it == index_->end() ? kNotSubscribed : it->second;
  }
  const Sub* subs = subData();
  for (uint32_t i = 0; i < subCount_; ++i) {
    if (subs[i].channel == channel) return i;
  }
  return kNotSubscribed;
}

void Session::addSub(Sub sub) {
  if (subCount_ == subCapacity()) {
    Sub* grown = new Sub[subCapacity() * 2];
    std::copy_n(subData(), subCount_, grown);
    if (subCapacityLog2_ > 0) delete[] manySubs_;
    manySubs_ = grown;
    ++subCapacityLog2_;
  }
  subData()[subCount_++] = sub;
  if (index_ != nullptr) {
    index_->emplace(sub.channel, subCount_ - 1);
  } else if (subCount_ > kScanUpTo) {
    index_ = std::make_unique<std::unordered_map<const LocalChannel*, uint32_t>>();
    index_->reserve(subCount_ * 2);
    for (uint32_t i = 0; i < subCount_; ++i) index_->emplace(manySubs_[i].channel, i);
  }
}

bool Session::removeSub(uint32_t position, Sub* moved) {
  Sub* subs = subData();
  if (index_ != nullptr) index_->erase(subs[position].channel);
  const bool last = position + 1 == subCount_;
  if (!last) {
    subs[position] = subs[subCount_ - 1];
    *moved = subs[position];
    if (index_ != nullptr) (*index_)[moved->channel] = position;
  }
  --subCount_;
  if (subCount_ == 0 && subCapacityLog2_ > 0) {
    // A session that had thousands keeps no array.
    index_.reset();
    delete[] manySubs_;
    oneSub_ = {};
    subCapacityLog2_ = 0;
  }
  return !last;
}

void Session::beginRequest() {
  if (++inFlight_ == kMaxInFlight) conn_->holdInput(true);
}

bool Session::endRequest() {
  --inFlight_;
  if (conn_ == nullptr) {
    if (inFlight_ == 0) delete this;
    return false;
  }
  if (inFlight_ == kMaxInFlight / 2) conn_->holdInput(false);
  return true;
}

void Session::detach() {
  conn_ = nullptr;
  if (inFlight_ == 0) delete this;
}

void PushEndpoint::onOpen(ws::WsConnection& conn) {
  Session& s = sessionOf(conn);
  Fanout::currentShard()->addSession(&s);
  std::string json;
  frame::welcome(json, s.user(), connName(conn), engine_->nodeEpoch());
  conn.sendText(json);
  armExpiry(s);
}

void PushEndpoint::armExpiry(Session& s) {
  ws::WsConnection* conn = s.conn();
  const int64_t expSec = s.expSec();
  if (expSec == 0) {
    conn->setEndpointDeadline(0);
    return;
  }
  // exp is wall-clock time, the loop's timers are monotonic: arm for the time left now, and
  // look at the wall clock again when it fires (it may have been set meanwhile).
  const int64_t leftMs = std::max<int64_t>(expSec * 1000 - wallMs(), 1);
  conn->setEndpointDeadline(conn->loop()->nowMs() + leftMs);
}

void PushEndpoint::onEndpointDeadline(ws::WsConnection& conn, int64_t) {
  Session& s = sessionOf(conn);
  const int64_t expSec = s.expSec();
  if (expSec == 0) return;
  if (wallMs() < expSec * 1000) return armExpiry(s);  // the wall clock went back
  RC_LOG_DEBUG("{}: token of {} expired", connName(conn), s.user());
  conn.close(kTokenExpiredCloseCode, kTokenExpiredReason);
}

void PushEndpoint::onClose(ws::WsConnection& conn, uint16_t) {
  auto* s = static_cast<Session*>(conn.userData());
  if (s == nullptr) return;
  conn.setUserData(nullptr);
  Fanout::currentShard()->removeSession(s);
  s->detach();
}

void PushEndpoint::onMessage(ws::WsConnection& conn, ws::Opcode op, std::string_view payload) {
  Session& s = sessionOf(conn);
  // Before the command does anything: a refused one is only parsed for its id (so the
  // client can match the refusal), and the 100th refusal closes.
  switch (s.limiter.admit(options_->commandRate, conn.loop()->nowMs())) {
    case CommandLimiter::Verdict::kAccept:
      break;
    case CommandLimiter::Verdict::kRefuse: {
      ++Fanout::currentShard()->counters().commandsRateLimited;
      Command cmd;
      CommandError err;
      const bool parsed = op == ws::Opcode::kText && parseCommand(payload, &cmd, &err);
      return replyError(s, parsed ? cmd.id : err.id, "rate_limited",
                        "too many commands: slow down");
    }
    case CommandLimiter::Verdict::kClose:
      ++Fanout::currentShard()->counters().rateLimitDisconnects;
      RC_LOG_DEBUG("{}: closed for sustained command flooding", connName(conn));
      return conn.close(ws::kPolicyViolation, "rate limit exceeded");
  }
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
    case Op::kRefresh:
      return refresh(s, cmd);
  }
}

void PushEndpoint::replyError(Session& s, std::string_view id, std::string_view code,
                              std::string_view message) {
  std::string json;
  frame::replyError(json, id, code, message);
  s.conn()->sendText(json);
}

void PushEndpoint::subscribe(Session& s, const Command& cmd) {
  if (!s.maySubscribe(cmd.channel)) {
    return replyError(s, cmd.id, "forbidden", "not allowed to subscribe to this channel");
  }
  Shard* shard = Fanout::currentShard();
  if (s.subs().size() >= options_->maxSubscriptions && !shard->isSubscribed(&s, cmd.channel)) {
    return replyError(
        s, cmd.id, "too_many_subscriptions",
        fmt::format("at most {} subscriptions per connection", options_->maxSubscriptions));
  }
  // The subscription is in place (pending) before the engine is asked where the channel
  // stands: a live message from then on is either kept for it or among the missed ones.
  const bool added = shard->addSubscription(&s, cmd.channel, cmd.presence);
  std::optional<StreamPosition> since;
  if (cmd.hasSince) since = StreamPosition{cmd.since.offset, cmd.since.epoch};
  s.beginRequest();
  engine_->recover(cmd.channel, since,
                   [this, shard, sp = &s, id = cmd.id, channel = cmd.channel,
                    hasSince = cmd.hasSince, added](Recovery&& r) {
                     Session& s = *sp;
                     if (!s.endRequest()) return;
                     if (!r.ok) {
                       if (added) shard->removeSubscription(&s, channel);
                       return replyError(s, id, r.errorCode, r.errorMessage);
                     }
                     frame::ReplyOk reply;
                     reply.id = id;
                     reply.channel = channel;
                     reply.hasOffset = true;
                     reply.offset = r.offset;
                     reply.epoch = r.epoch;
                     if (hasSince) reply.recovered = r.recovered ? 1 : 0;
                     std::string json;
                     frame::replyOk(json, reply);
                     s.conn()->sendText(json);
                     // Missed messages follow the reply, then what arrived live meanwhile, then
                     // live ones.
                     for (FrameRef& f : r.missed) s.conn()->sendFrame(std::move(f));
                     if (added && !shard->activateSubscription(&s, channel, r.offset)) {
                       std::string lost;
                       frame::lost(lost, channel, r.offset, r.epoch);
                       s.conn()->sendText(lost);
                     }
                   });
}

void PushEndpoint::unsubscribe(Session& s, const Command& cmd) {
  if (!Fanout::currentShard()->removeSubscription(&s, cmd.channel)) {
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
  // Dev mode lets everyone publish; with tokens only `pubs` grants it.
  if (!options_->jwtSecret.empty() && !s.mayPublish(cmd.channel)) {
    return replyError(s, cmd.id, "forbidden", "not allowed to publish to this channel");
  }
  s.beginRequest();
  engine_->publish(cmd.channel, cmd.data, s.user(), ReceiptWait::kAccepted,
                   [this, sp = &s, id = cmd.id, channel = cmd.channel](const Receipt& r) {
                     Session& s = *sp;
                     if (!s.endRequest()) return;
                     if (!r.ok) return replyError(s, id, r.errorCode, r.errorMessage);
                     frame::ReplyOk reply;
                     reply.id = id;
                     reply.channel = channel;
                     reply.hasOffset = true;
                     reply.offset = r.offset;
                     std::string json;
                     frame::replyOk(json, reply);
                     s.conn()->sendText(json);
                   });
}

void PushEndpoint::sendDirect(Session& s, const Command& cmd) {
  if (!s.canSend()) {
    return replyError(s, cmd.id, "forbidden", "not allowed to send direct messages");
  }
  engine_->send(cmd.to, cmd.data, s.user(), nullptr);  // one frame for every recipient
  frame::ReplyOk reply;
  reply.id = cmd.id;
  std::string json;
  frame::replyOk(json, reply);
  s.conn()->sendText(json);
}

void PushEndpoint::presence(Session& s, const Command& cmd) {
  if (!s.maySubscribe(cmd.channel)) {
    return replyError(s, cmd.id, "forbidden", "not allowed to see this channel");
  }
  s.beginRequest();
  engine_->presencePage(cmd.channel, kMaxPresenceEntries,
                        [sp = &s, id = cmd.id, channel = cmd.channel](PresencePage page) {
                          Session& s = *sp;
                          if (!s.endRequest()) return;
                          std::vector<frame::PresenceEntry> views;
                          views.reserve(page.entries.size());
                          for (const PresenceEntry& e : page.entries) {
                            views.push_back({e.user, e.name, e.conns});
                          }
                          std::string json;
                          frame::presence(json, id, channel, page.total, views);
                          s.conn()->sendText(json);
                        });
}

// Checked exactly like the upgrade's token; a refused one changes nothing (the old expiry
// stays in force).
void PushEndpoint::refresh(Session& s, const Command& cmd) {
  if (options_->jwtSecret.empty()) {
    return replyError(s, cmd.id, "bad_request", "dev mode has no tokens to refresh");
  }
  AuthResult auth =
      verifyToken(cmd.token, options_->jwtSecret, wallMs() / 1000, options_->tokenClaims);
  if (!auth.ok) return replyError(s, cmd.id, "unauthorized", auth.reason);
  if (auth.identity.user != s.user()) {
    return replyError(s, cmd.id, "unauthorized", "token is for another user");
  }
  s.replaceGrants(auth.identity);
  armExpiry(s);
  frame::ReplyOk reply;
  reply.id = cmd.id;
  std::string json;
  frame::replyOk(json, reply);
  s.conn()->sendText(json);
}

}  // namespace ringcast::push
