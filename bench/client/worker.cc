#include "bench/client/worker.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "bench/client/cpu_usage.h"
#include "bench/client/echo_mode.h"
#include "bench/client/fanout_subscriber.h"
#include "bench/client/handshake_mode.h"
#include "bench/client/ipc.h"
#include "bench/client/shard.h"
#include "bench/client/ws_client.h"
#include "core/clock.h"
#include "net/loop_group.h"

namespace ringcast::bench {
namespace {

constexpr int64_t kSnapshotEveryMs = 100;
// After stop: how long closes may take before the loops are stopped regardless.
constexpr int64_t kStopGraceMs = WsClient::kCloseTimeoutMs + 500;
// The largest message a subscriber or echo client accepts (a safety bound, not a setting).
constexpr uint64_t kMaxMessageBytes = 256u << 20;

std::unique_ptr<Shard> makeShard(net::EventLoop* loop, const WorkerContext* ctx,
                                 const Shard::Plan& plan) {
  switch (ctx->options->mode) {
    case Mode::kEcho:
      return std::make_unique<EchoShard>(loop, ctx, plan);
    case Mode::kIdle:
      return std::make_unique<Shard>(loop, ctx, plan);
    case Mode::kHandshake:
      return std::make_unique<HandshakeShard>(loop, ctx, plan);
    case Mode::kFanout:
      return std::make_unique<SubscriberShard>(loop, ctx, plan);
  }
  return nullptr;
}

}  // namespace

std::string upgradeHead(const Url& url, const std::vector<std::string>& headers) {
  std::string head = "GET " + url.target + " HTTP/1.1\r\nHost: " + url.hostHeader +
                     "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Version: 13\r\n";
  for (const std::string& h : headers) head += h + "\r\n";
  return head;
}

std::string upgradeHead(const Options& o, const Url& url) {
  std::string head = upgradeHead(url, o.headers);
  if (o.compression)
    head += "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n";
  return head;
}

LoopShare loopShare(const Options& o, int proc, int thread) {
  const uint64_t procs = static_cast<uint64_t>(o.procs), threads = static_cast<uint64_t>(o.threads);
  LoopShare share;
  for (uint64_t k = 0; k <= static_cast<uint64_t>(proc); ++k) {
    const uint64_t conns = shareOf(o.conns, procs, k), stalled = shareOf(o.stalled, procs, k);
    for (uint64_t i = 0; i < threads; ++i) {
      share.slots = shareOf(conns, threads, i);
      share.stalled = shareOf(stalled, threads, i);
      if (k == static_cast<uint64_t>(proc) && i == static_cast<uint64_t>(thread)) return share;
      share.firstGlobal += share.slots;
    }
  }
  return share;
}

std::vector<uint64_t> readersPerChannel(const Options& o) {
  std::vector<uint64_t> readers(o.channels.count(), 0);
  for (int proc = 0; proc < o.procs; ++proc) {
    for (int thread = 0; thread < o.threads; ++thread) {
      const LoopShare share = loopShare(o, proc, thread);
      for (uint64_t slot = share.stalled; slot < share.slots; ++slot) {
        ++readers[o.channels.ofSubscriber(share.firstGlobal + slot)];
      }
    }
  }
  return readers;
}

int runWorker(const Options& o, int procIndex, int ctrlFd, int outFd, DeliveryLedger* ledger) {
  WorkerContext ctx;
  ctx.ledger = ledger;
  ctx.options = &o;
  ctx.target = &o.url;
  ctx.procIndex = procIndex;
  ctx.upgradeHead = upgradeHead(o, o.url);
  for (const Url& u : o.urls) ctx.upgradeHeads.push_back(upgradeHead(o, u));
  ctx.frameLimits.maxMessageBytes = kMaxMessageBytes;
  if (o.url.tls) ctx.tls = net::TlsContext::insecureClient(o.ktls);

  const int threads = o.threads;
  const double loopsTotal = static_cast<double>(o.procs) * threads;
  std::vector<Shard::Plan> plans(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    Shard::Plan& p = plans[static_cast<size_t>(i)];
    const uint32_t concurrency =
        std::max<uint32_t>(1, o.concurrency / static_cast<uint32_t>(threads));
    if (o.mode == Mode::kHandshake) {
      p.slots = concurrency;
      p.ratePerSec = o.ratePerSec / loopsTotal;
    } else {
      const LoopShare share = loopShare(o, procIndex, i);
      p.slots = share.slots;
      p.stalled = share.stalled;
      p.firstGlobal = share.firstGlobal;
      p.ratePerSec = o.rampPerSec / loopsTotal;
    }
    p.concurrency = concurrency;
    p.firstSource = static_cast<size_t>(procIndex * threads + i);
  }

  // Declared before the loops, so the loops (and the connections they close on the way
  // out, which report to their shard) go first.
  std::vector<std::unique_ptr<Shard>> shards(static_cast<size_t>(threads));
  net::LoopGroup group(threads);
  group.start([&](net::EventLoop& loop) {
    const size_t i = static_cast<size_t>(loop.id());
    shards[i] = makeShard(&loop, &ctx, plans[i]);
    shards[i]->start();
  });
  auto forEachShard = [&](auto fn) {
    for (int i = 0; i < threads; ++i) {
      Shard* s = shards[static_cast<size_t>(i)].get();
      group.loop(i).queueInLoop([s, fn] { fn(*s); });
    }
  };
  // LoopGroup pins loop i of every process to the i-th allowed CPU; with several worker
  // processes that would stack every process's first loop on one CPU. Spread them instead.
  if (o.procs > 1) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    sched_getaffinity(0, sizeof allowed, &allowed);
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    }
    for (int i = 0; i < threads && cpus.size() > 1; ++i) {
      const int cpu = cpus[static_cast<size_t>(procIndex * threads + i) % cpus.size()];
      group.loop(i).queueInLoop([cpu] {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof one, &one);
      });
    }
  }

  MessageReader reader;
  std::vector<uint64_t> expected;
  int64_t cpuAtGo = -1, cpuAtStop = -1;
  int64_t stopDeadline = 0;
  int64_t nextSnapshot = monotonicMs();
  bool parentGone = false;
  while (true) {
    pollfd pfd{ctrlFd, POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(kSnapshotEveryMs / 2));
    if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !reader.readFrom(ctrlFd)) {
      parentGone = true;
    }
    MsgType type;
    std::string payload;
    while (reader.next(&type, &payload)) {
      if (type == MsgType::kGo) {
        cpuAtGo = selfCpuNs();
        forEachShard([](Shard& s) { s.go(); });
      } else if (type == MsgType::kStop || type == MsgType::kFinish) {
        cpuAtStop = selfCpuNs();
        expected.resize(payload.size() / 8);
        if (!expected.empty()) std::memcpy(expected.data(), payload.data(), expected.size() * 8);
        forEachShard([](Shard& s) { s.stop(); });
        stopDeadline = monotonicMs() + kStopGraceMs;
      }
    }
    if (parentGone) break;
    const int64_t now = monotonicMs();
    if (now >= nextSnapshot) {
      nextSnapshot = now + kSnapshotEveryMs;
      Counters sum;
      bool complete = true;
      for (auto& s : shards) {
        Counters one;
        complete &= s->snapshot(&one);
        sum.merge(one);
      }
      for (auto& s : shards) s->requestSnapshot();
      if (!complete) continue;
      if (!writeMessage(outFd, MsgType::kSnapshot,
                        {reinterpret_cast<const char*>(&sum), sizeof sum})) {
        break;
      }
      if (stopDeadline != 0 && ((sum.openNow == 0 && sum.pending == 0) || now >= stopDeadline)) {
        break;
      }
    }
  }
  group.stop();
  if (parentGone) return 1;
  Stats total;
  for (auto& s : shards) {
    s->finish(expected);
    total.merge(s->stats());
  }
  if (cpuAtGo >= 0 && cpuAtStop >= 0) total.c.cpuWindowNs = cpuAtStop - cpuAtGo;
  std::string bytes;
  total.appendTo(bytes);
  return writeMessage(outFd, MsgType::kResult, bytes) ? 0 : 1;
}

}  // namespace ringcast::bench
