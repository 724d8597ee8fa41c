// EchoEndpoint: GET /echo (with --echo) sends every text or binary message back as it came,
// as one frame (compressed when the connection negotiated permessage-deflate). It exists to test
// and measure the WebSocket layer and the reactor alone. Stateless: one instance serves every loop.
#pragma once

#include "ws/frame_writer.h"
#include "ws/ws_connection.h"

namespace ringcast::push {

class EchoEndpoint final : public ws::WsEndpoint {
 public:
  void onMessage(ws::WsConnection& conn, ws::Opcode op, std::string_view payload) override {
    conn.sendMessage(ws::buildFrame(op, payload));
  }
};

}  // namespace ringcast::push
