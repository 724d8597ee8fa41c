// The demo chat page and the JavaScript client, built into the binary from tools/demo/ (see
// tools/embed_assets.cmake) and served on the public port: GET / and GET /ringcast.js.
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

}  // namespace ringcast::push
