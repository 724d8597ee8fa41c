#include "push/port_refusals.h"

#include <iterator>

#include <fmt/format.h>

namespace ringcast::push {

void PortRefusals::appendMetrics(std::string& out) const {
  struct Family {
    std::string_view name;
    std::string_view help;
    Reason first;
    Reason end;
  };
  static constexpr Family kFamilies[] = {
      {"ringcast_api_refused_total",
       "HTTP API requests and connections refused at the edge, by reason.", kApiOrigin,
       kPublishIdle},
      {"ringcast_publish_refused_total", "TCP publish connections closed at the edge, by reason.",
       kPublishIdle, kReasons},
  };
  static constexpr std::string_view kLabels[kReasons] = {
      "origin", "host", "content_type", "timeout", "connections", "idle", "connections"};
  for (const Family& f : kFamilies) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} counter\n", f.name, f.help,
                   f.name);
    for (int r = f.first; r < f.end; ++r) {
      fmt::format_to(std::back_inserter(out), "{}{{reason=\"{}\"}} {}\n", f.name, kLabels[r],
                     value(static_cast<Reason>(r)));
    }
  }
}

}  // namespace ringcast::push
