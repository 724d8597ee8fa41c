// The demo chat page and the JavaScript client, built into the binary from tools/demo/ (see
// tools/embed_assets.cmake) and served on the public port: GET /, /ringcast.js, /chat.js,
// /demo.css.
#pragma once

#include <span>
#include <string_view>

namespace ringcast::push {

struct DemoAsset {
  std::string_view path;         // "/" or "/ringcast.js"
  std::string_view contentType;  // for the Content-Type header
  std::string_view body;
};

std::span<const DemoAsset> demoAssets();

// Sent with every demo asset. Scripts and styles only from the gateway itself (no inline
// script or handler runs, whatever a message manages to put in the page), images from
// anywhere over http(s) (media messages), connections only back to the gateway (ws:/wss: on
// the same host and port), no plugins, frames, <base> or form submissions.
inline constexpr std::string_view kDemoContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' http: https:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace ringcast::push
