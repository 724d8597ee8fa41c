// Session: one authenticated client on /ws — its identity, its subscriptions, and the
// handling of its JSON commands. PushEndpoint is the WsEndpoint of /ws: it authenticates the
// upgrade (HS256 token, or ?user= in dev mode), creates the Session and feeds it messages.
//
// Token expiry: a token's `exp` is the connection's endpoint deadline (WsConnection::
// setEndpointDeadline, on the connection's one timer, so it costs nothing per tick); when it
// passes the connection is closed with kTokenExpiredCloseCode, unless a `refresh` command
// brought a valid token for the same user first (its exp, subs, pubs and send then replace
// the old ones). Dev mode has no tokens and nothing expires.
//
// Thread safety: a Session lives on its connection's loop and is used only there.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/shared_frame.h"
#include "push/auth.h"
#include "push/client_protocol.h"
#include "push/command_limiter.h"
#include "ws/ws_connection.h"

namespace ringcast::push {

class Engine;
class Shard;
struct LocalChannel;

struct PushOptions {
  std::string jwtSecret;             // empty: dev mode (?user=NAME, everyone may publish)
  TokenClaims tokenClaims;           // aud / iss a token must carry
  uint32_t maxSubscriptions = 1024;  // per connection; a subscribe over it is refused
  CommandRate commandRate;           // per connection
};

class Session {
 public:
  Session(ws::WsConnection* conn, Identity identity, const CommandRate& rate, int64_t nowMs);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  // From a FixedPool (core/fixed_pool.h): every /ws connection has one.
  static void* operator new(size_t bytes);
  static void operator delete(void* p) noexcept;

  ws::WsConnection* conn() const { return conn_; }
  const std::string& user() const { return user_; }
  // The display name: the token's "name" (or dev mode's ?name=), else the user.
  const std::string& name() const {
    return grants_ != nullptr && !grants_->name.empty() ? grants_->name : user_;
  }
  // What the token allows. Without a "subs" claim every channel may be subscribed to;
  // without a "pubs" claim none may be published to (dev mode does not ask).
  bool maySubscribe(std::string_view channel) const {
    return grants_ == nullptr || !grants_->hasSubs || channelAllowed(channel, grants_->subs);
  }
  bool mayPublish(std::string_view channel) const {
    return grants_ != nullptr && grants_->hasPubs && channelAllowed(channel, grants_->pubs);
  }
  bool canSend() const { return canSend_; }
  // The token's exp (Unix seconds; 0: none; one past 2106 counts as 2106).
  int64_t expSec() const { return expSec_; }
  // A refreshed token for the same user: its permissions and expiry replace the current ones
  // (user and display name stay). REQUIRES: fresh.user == user().
  void replaceGrants(const Identity& fresh);

  // A subscription as the session sees it: which local channel, and where its entry sits
  // in that channel's subscriber array (kept up to date by the shard's swap-removes).
  struct Sub {
    LocalChannel* channel;
    uint32_t index;
  };
  std::span<const Sub> subs() const { return {subData(), subCount_}; }
  Sub& sub(uint32_t position) { return subData()[position]; }
  // Where `channel` sits in subs(), or kNotSubscribed. O(1) either way: a scan while the
  // session has at most kScanUpTo subscriptions (most have a few, and an index per session
  // would cost more than the session), a hash index from then on (built when it passes
  // kScanUpTo, dropped when the session has none left).
  static constexpr uint32_t kNotSubscribed = UINT32_MAX;
  static constexpr size_t kScanUpTo = 16;
  uint32_t position(const LocalChannel* channel) const;
  bool isSubscribed(const LocalChannel* channel) const {
    return position(channel) != kNotSubscribed;
  }
  // Appends a subscription (not one the session has); its position is subs().size() - 1.
  void addSub(Sub sub);
  // Swap-removes the subscription at `position`. When another one moved into its place,
  // returns true with that one in *moved (its channel entry must learn the new position).
  bool removeSub(uint32_t position, Sub* moved);
  // Whether the hash index is in use (for tests).
  bool indexed() const { return index_ != nullptr; }
  CommandLimiter limiter;   // the connection's command rate limit
  uint32_t shardIndex = 0;  // position in the shard's session array
  uint32_t userIndex = 0;   // position in the shard's array for this user

  // drop-oldest policy: the last {"type":"dropped"} notice queued, and how many dropped
  // messages it reports. A later overflow may drop that notice too; its count then carries
  // over into the next one, so the counts a client receives add up to what it missed.
  FrameRef lastDroppedNotice;
  uint32_t unreportedDropped = 0;  // saturates (a client told of 4 billion has the idea)

  // Commands waiting for the engine's answer (a publish, a subscribe's recovery). A session
  // whose connection closed lives on, detached, until the last of them is answered, so an
  // answer never touches freed memory. Over kMaxInFlight the connection is not read.
  static constexpr uint16_t kMaxInFlight = 64;
  void beginRequest();
  // Returns false when the session is detached (the caller must not use it further; the
  // last answer frees it).
  bool endRequest();
  bool detached() const { return conn_ == nullptr; }
  // The connection is gone: frees the session now, or when its last answer arrives.
  void detach();

 private:
  // What a token grants beyond its user, on the heap only when it says something (a
  // display name other than the user, subs or pubs patterns): most sessions have none.
  struct Grants {
    std::string name;  // empty: the user
    bool hasSubs = false;
    std::vector<std::string> subs;
    bool hasPubs = false;
    std::vector<std::string> pubs;
  };
  void setGrants(std::string name, Identity identity);
  uint32_t subCapacity() const { return uint32_t{1} << subCapacityLog2_; }
  Sub* subData() { return subCapacityLog2_ == 0 ? &oneSub_ : manySubs_; }
  const Sub* subData() const { return subCapacityLog2_ == 0 ? &oneSub_ : manySubs_; }

  // Packed (120 bytes with the public part above): a session sits in every connection.
  uint32_t expSec_;
  ws::WsConnection* conn_;
  std::string user_;
  std::unique_ptr<Grants> grants_;
  // The subscriptions: one in place (most sessions have one), more in a heap array.
  union {
    Sub oneSub_;     // capacity 1
    Sub* manySubs_;  // capacity 2 and more
  };
  // channel -> position in subs, only past kScanUpTo subscriptions.
  std::unique_ptr<std::unordered_map<const LocalChannel*, uint32_t>> index_;
  uint32_t subCount_ = 0;
  uint8_t subCapacityLog2_ = 0;
  bool canSend_;
  uint16_t inFlight_ = 0;
};

class PushEndpoint final : public ws::WsEndpoint {
 public:
  PushEndpoint(Engine* engine, const PushOptions* options) : engine_(engine), options_(options) {}

  int onUpgrade(ws::WsConnection& conn, const http::Request& request, std::string* reason) override;
  void onOpen(ws::WsConnection& conn) override;
  void onMessage(ws::WsConnection& conn, ws::Opcode op, std::string_view payload) override;
  void onClose(ws::WsConnection& conn, uint16_t code) override;
  void onEndpointDeadline(ws::WsConnection& conn, int64_t nowMs) override;

 private:
  void handle(Session& s, const Command& cmd);
  void subscribe(Session& s, const Command& cmd);
  void unsubscribe(Session& s, const Command& cmd);
  void publish(Session& s, const Command& cmd);
  void sendDirect(Session& s, const Command& cmd);
  void presence(Session& s, const Command& cmd);
  void refresh(Session& s, const Command& cmd);
  // Sets the connection's deadline to the token's exp (none without one).
  static void armExpiry(Session& s);
  void replyError(Session& s, std::string_view id, std::string_view code, std::string_view message);

  Engine* engine_;
  const PushOptions* options_;
  std::atomic<uint64_t> anonymous_{0};  // dev mode: anon-<n> names
};

}  // namespace ringcast::push
